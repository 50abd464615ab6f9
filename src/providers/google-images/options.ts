// OpenAI image request fields -> what Google's image models can do (pure). Each field is translated,
// ignored (named in `x-tokengate-ignored-params`), or refused with 400 when ignoring it would hand the
// client something else than it asked for (another format, a transparent background, a style).
import { isJsonObject } from '../../metering/guards.js';
import { unsupported, type ImageErrorAnswer } from './errors.js';

export interface GoogleImageOptions {
  prompt: string;
  n: number;
  aspectRatio: string;
  /** The pixel size the aspect ratio produces, echoed as OpenAI's `size`. */
  size: string;
  /** "image/png" or "image/jpeg"; null: the model's own (PNG). */
  mimeType: string | null;
  /** JPEG quality 0-100, only with image/jpeg. */
  compression: number | null;
  /** OpenAI's `url` cannot point at Google's bytes: it becomes a data: URL. */
  responseFormat: 'b64_json' | 'url';
  ignored: string[];
}

export interface ModelAbilities {
  /** Pixel size -> the aspect ratio that produces it. */
  sizes: Readonly<Record<string, string>>;
  /** Output formats the model can produce (png first: its default). */
  formats: readonly ('png' | 'jpeg')[];
  maxImages: number;
  /** The model's name for messages. */
  label: string;
}

export type OptionsResult = { ok: true; options: GoogleImageOptions } | { ok: false; error: ImageErrorAnswer };

const DEFAULT_SIZE = '1024x1024';

export function googleImageOptions(body: Record<string, unknown>, abilities: ModelAbilities): OptionsResult {
  const refuse = (message: string, param: string): OptionsResult => ({ ok: false, error: unsupported(message, param) });
  const ignored: string[] = [];
  const prompt = typeof body.prompt === 'string' ? body.prompt : '';
  const n = typeof body.n === 'number' ? body.n : 1;
  if (n > abilities.maxImages) return refuse(`${abilities.label} makes at most ${abilities.maxImages} image(s) per request.`, 'n');

  const size = typeof body.size === 'string' ? body.size : DEFAULT_SIZE;
  const aspectRatio = abilities.sizes[size];
  if (!aspectRatio) return refuse(`${abilities.label} makes no image of size '${size}'; choose one of ${Object.keys(abilities.sizes).join(', ')}.`, 'size');

  const format = typeof body.output_format === 'string' ? body.output_format : 'png';
  if (!(abilities.formats as readonly string[]).includes(format)) {
    return refuse(`${abilities.label} cannot produce output_format '${format}'; choose one of ${abilities.formats.join(', ')}.`, 'output_format');
  }
  if (body.background === 'transparent') return refuse(`${abilities.label} cannot make a transparent background.`, 'background');
  if (typeof body.style === 'string') return refuse('`style` is a dall-e-3 option; Google image models have no equivalent.', 'style');

  let compression: number | null = null;
  if (typeof body.output_compression === 'number') {
    if (format === 'jpeg') compression = body.output_compression;
    else ignored.push('output_compression');
  }
  // Google's safety filters cannot be lowered per request; `auto` is what they do anyway.
  if (body.moderation === 'low') ignored.push('moderation');
  if (typeof body.user === 'string') ignored.push('user');

  return {
    ok: true,
    options: {
      prompt,
      n,
      aspectRatio,
      size,
      mimeType: format === 'jpeg' ? 'image/jpeg' : body.output_format === 'png' ? 'image/png' : null,
      compression,
      responseFormat: body.response_format === 'url' ? 'url' : 'b64_json',
      ignored,
    },
  };
}

/** One OpenAI `data` entry from base64 bytes. */
export function imageEntry(base64: string, mimeType: string, options: GoogleImageOptions, revisedPrompt?: unknown): Record<string, unknown> {
  const entry: Record<string, unknown> = options.responseFormat === 'url' ? { url: `data:${mimeType};base64,${base64}` } : { b64_json: base64 };
  if (typeof revisedPrompt === 'string' && revisedPrompt !== '') entry.revised_prompt = revisedPrompt;
  return entry;
}

/** OpenAI's `output_format` for a MIME type Google answered with. */
export function outputFormatOf(mimeType: string): string {
  const subtype = mimeType.split('/')[1] ?? 'png';
  return subtype === 'jpg' ? 'jpeg' : subtype;
}

export function stringField(value: unknown, key: string): string | null {
  return isJsonObject(value) && typeof value[key] === 'string' ? value[key] : null;
}
