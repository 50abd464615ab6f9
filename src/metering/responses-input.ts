/**
 * The prompt of a Responses API request, walked for the hold (SPEC 3.4): every text it carries, the
 * fixed costs of images and audio, and the stored items it refers to. Conservative by construction:
 * every string anywhere in an input item is counted as text (ids and statuses included), tool
 * definitions and the output schema as their JSON, an opaque `encrypted_content` (reasoning carried
 * between turns) as one token per character. Images follow the model's image rule on the pixel size
 * of a data URL (the model's worst case otherwise), audio its decoded bytes, as for chat
 * (tokenizer-images.ts, tokenizer-prompt.ts). A part whose cost cannot be bounded from the request
 * (files) is refused rather than under-held. The provider's usage decides the charge; this only
 * sizes the hold.
 */
import type { ImageTokenRule } from '../billing/price-table.js';
import { isJsonObject, stringOrEmpty, type JsonObject } from './guards.js';
import { base64DecodedLength, imageSizeFromUrl, imageTokens, worstImageTokens, type ImageDetail } from './tokenizer-images.js';
import { AUDIO_BYTES_PER_TOKEN } from './tokenizer-prompt.js';
import { REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOOL_DEFINITIONS_OVERHEAD } from './tokenizer.js';

/** Deeper than this, an input is refused: real requests nest a few levels, and the walk is recursive. */
const MAX_DEPTH = 32;

export type ResponsesPrompt = {
  /** The texts to encode. */
  texts: string[];
  /** Tokens of everything that is not text (per-item overhead, images, opaque reasoning). */
  fixedTokens: number;
  /** Ids of `item_reference` input items: stored items whose content the provider adds to the prompt. */
  itemReferences: string[];
};

/** An input part whose token cost the gateway cannot bound before calling the provider. */
export class UnboundedInputError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

/** What the walk needs to know of the model: how it counts an input image. */
export interface ResponsesPromptRules {
  imageTokens: ImageTokenRule;
}

export function collectResponsesPrompt(body: JsonObject, rules: ResponsesPromptRules): ResponsesPrompt {
  const prompt: ResponsesPrompt = { texts: [], fixedTokens: REPLY_PRIMING_TOKENS, itemReferences: [] };
  if (typeof body.instructions === 'string') addItem(prompt, body.instructions);
  if (typeof body.input === 'string') addItem(prompt, body.input);
  else if (Array.isArray(body.input)) {
    body.input.forEach((item, index) => {
      prompt.fixedTokens += TOKENS_PER_MESSAGE;
      walk(item, `input[${index}]`, 0, prompt, rules);
    });
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    prompt.fixedTokens += TOOL_DEFINITIONS_OVERHEAD;
    for (const tool of body.tools) addJson(prompt, tool);
  }
  if (isJsonObject(body.text)) addJson(prompt, body.text.format);
  if (isJsonObject(body.tool_choice)) addJson(prompt, body.tool_choice);
  return prompt;
}

function addItem(prompt: ResponsesPrompt, text: string): void {
  prompt.fixedTokens += TOKENS_PER_MESSAGE;
  if (text !== '') prompt.texts.push(text);
}

function addJson(prompt: ResponsesPrompt, value: unknown): void {
  if (value !== undefined && value !== null) prompt.texts.push(JSON.stringify(value));
}

function walk(value: unknown, path: string, depth: number, prompt: ResponsesPrompt, rules: ResponsesPromptRules): void {
  if (typeof value === 'string') {
    if (value !== '') prompt.texts.push(value);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_DEPTH) throw new UnboundedInputError(`'${path}' is nested more than ${MAX_DEPTH} levels deep.`, path);
  if (Array.isArray(value)) {
    value.forEach((element, index) => walk(element, `${path}[${index}]`, depth + 1, prompt, rules));
    return;
  }
  const object = value as JsonObject;
  switch (object.type) {
    case 'item_reference':
      if (typeof object.id !== 'string' || object.id === '') throw new UnboundedInputError(`'${path}.id' must name a stored item.`, `${path}.id`);
      prompt.itemReferences.push(object.id);
      return;
    case 'input_image':
    case 'computer_screenshot':
      prompt.fixedTokens += inputImageTokens(object, rules.imageTokens);
      return;
    case 'image_generation_call': // its `result` is an image, fed back as one
      prompt.fixedTokens += worstImageTokens(rules.imageTokens);
      return;
    case 'input_audio':
      prompt.fixedTokens += Math.ceil(base64DecodedLength(stringOrEmpty(isJsonObject(object.input_audio) ? object.input_audio.data : undefined)) / AUDIO_BYTES_PER_TOKEN);
      return;
    case 'input_file':
      throw new UnboundedInputError(
        `'${path}' is an input_file part: the gateway cannot bound what a file costs before calling the provider, so files are not accepted on /v1/responses yet (send them through /v1/chat/completions).`,
        path,
      );
  }
  for (const [key, child] of Object.entries(object)) {
    if (key === 'encrypted_content' && typeof child === 'string') prompt.fixedTokens += child.length;
    else walk(child, `${path}.${key}`, depth + 1, prompt, rules);
  }
}

/** An input image (`image_url` a data URL or an http(s) URL, or a `file_id`) by the model's image rule. */
function inputImageTokens(image: JsonObject, rule: ImageTokenRule): number {
  const detail: ImageDetail = image.detail === 'low' || image.detail === 'high' ? image.detail : 'auto';
  const url = stringOrEmpty(image.image_url);
  return imageTokens(rule, detail, url.startsWith('data:') ? imageSizeFromUrl(url) : null);
}
