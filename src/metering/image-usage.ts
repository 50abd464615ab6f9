// What an OpenAI-format image answer (`ImagesResponse`) says was delivered: how many images, the
// token usage gpt-image-1 reports (and the Google adapter translates Gemini's into), and the size and
// quality the provider chose when the request said "auto".
import type { ImageTokens } from '../billing/image-pricing.js';
import { isJsonObject, isNonNegativeInteger } from './guards.js';

export interface ImagesAnswer {
  /** Images actually returned (an entry with `b64_json` or `url`). */
  images: number;
  /** Reported token usage, or null when there is none or it cannot be trusted. */
  tokens: ImageTokens | null;
  size: string | null;
  quality: string | null;
}

export function readImagesAnswer(json: unknown): ImagesAnswer {
  if (!isJsonObject(json)) return { images: 0, tokens: null, size: null, quality: null };
  const data = Array.isArray(json.data) ? json.data : [];
  return {
    images: data.filter(isDeliveredImage).length,
    tokens: imageTokensFromOpenAI(json.usage),
    size: typeof json.size === 'string' ? json.size : null,
    quality: typeof json.quality === 'string' ? json.quality : null,
  };
}

/**
 * OpenAI's image `usage`: `input_tokens` (text and image), split by `input_tokens_details`, and
 * `output_tokens`. Null when absent or when a count is not a non-negative integer. Without the
 * details every input token counts as text; the image part is clamped to the input total.
 */
export function imageTokensFromOpenAI(usage: unknown): ImageTokens | null {
  if (!isJsonObject(usage)) return null;
  const { input_tokens: inputTokens, output_tokens: outputTokens, input_tokens_details: details } = usage;
  if (!isNonNegativeInteger(inputTokens) || !isNonNegativeInteger(outputTokens)) return null;
  let imageInputTokens = 0;
  if (details !== undefined && details !== null) {
    if (!isJsonObject(details)) return null;
    const image = details.image_tokens ?? 0;
    if (!isNonNegativeInteger(image)) return null;
    imageInputTokens = Math.min(image, inputTokens);
  }
  return { textInputTokens: inputTokens - imageInputTokens, imageInputTokens, outputTokens };
}

function isDeliveredImage(entry: unknown): boolean {
  if (!isJsonObject(entry)) return false;
  return (typeof entry.b64_json === 'string' && entry.b64_json !== '') || (typeof entry.url === 'string' && entry.url !== '');
}
