/**
 * What a chat request puts into the model's context, for the prompt estimate that sizes its hold:
 * the texts to encode with tiktoken, and the tokens of everything that is not text (per-message
 * overhead, images, audio, files), each estimated so that it is not below what the provider bills.
 *
 * The text rule is OpenAI's published chat counting rule (3 tokens per message, 1 more for a `name`,
 * 3 to prime the reply), extended upward: tool and function definitions and `json_schema` formats
 * count as their JSON text (longer than the form the provider renders), replayed tool calls as their
 * full JSON, and message fields this walk does not know as their JSON text.
 *
 * Content parts are estimated by PART_ESTIMATORS, one entry per part type (a new kind, such as the
 * Responses API's `input_text` / `input_image` / `input_file`, is one more entry):
 * - `image_url`: the model's image rule on the pixel size read from a data URL (tokenizer-images.ts).
 * - `input_audio`: decoded bytes / AUDIO_BYTES_PER_TOKEN.
 * - `file` with `file_data`: FILE_TEXT_TOKENS_PER_BYTE per decoded byte plus one worst-case image of
 *   the model for every FILE_BYTES_PER_PAGE bytes (see the constants for why).
 * - `file` with only a `file_id`: the gateway cannot see the file; validation refuses it
 *   (src/proxy/chat-request.ts), and this walk counts it as unbounded should it ever get here.
 * The caller caps the total at the model's context window (the provider refuses longer prompts).
 */
import type { ImageTokenRule } from '../billing/price-table.js';
import { arrayOrEmpty, isJsonObject, stringOrEmpty, type JsonObject } from './guards.js';
import { base64DecodedLength, imageSizeFromUrl, imageTokens, worstImageTokens, type ImageDetail } from './tokenizer-images.js';

export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;
/** The wrapper the provider puts around tool definitions in the system prompt. */
export const TOOL_DEFINITIONS_OVERHEAD = 12;
/**
 * Audio input: OpenAI's audio models bill about 10 tokens a second (the Realtime API documents one
 * token per 100 ms of user audio), and the most compact audio the API accepts (MP3 at 8 kbit/s) takes
 * 1,000 bytes a second: at most 1 token per 100 bytes. 25 bytes a token leaves a factor of 4 over that.
 */
export const AUDIO_BYTES_PER_TOKEN = 25;
/**
 * Files: OpenAI puts a PDF into the context as its extracted text plus an image of each page. Text:
 * a token is at least one byte of text, and PDF text streams are usually deflate-compressed about
 * 3-4x while English averages about 4 bytes a token, so about 1 token per file byte covers the text
 * of ordinary files. Pages: every page costs at most the model's worst-case image, and a page takes
 * at least FILE_BYTES_PER_PAGE bytes of the file (its page object, content stream and cross-reference
 * entry). A file crafted to compress far better, or to pack pages tighter, can exceed this estimate;
 * the context-window cap still bounds the prompt (the README states the bound).
 */
export const FILE_TEXT_TOKENS_PER_BYTE = 1;
export const FILE_BYTES_PER_PAGE = 1024;
/** A part the gateway cannot size: more than any context window, so only the cap (or a refusal) applies. */
export const UNBOUNDED_PART_TOKENS = 1_000_000_000;

/** The texts to encode, the fixed tokens of everything else, and predicted output (billed as output). */
export type PromptTexts = { texts: string[]; fixedTokens: number; predictedTexts: string[] };

export interface PromptRules {
  imageTokens: ImageTokenRule;
}

type PartEstimator = (part: JsonObject, prompt: PromptTexts, rules: PromptRules) => void;

const PART_ESTIMATORS: Record<string, PartEstimator> = {
  text: (part, prompt) => addText(prompt, part.text),
  refusal: (part, prompt) => addText(prompt, part.refusal),
  image_url: (part, prompt, rules) => addFixed(prompt, imageUrlTokens(part.image_url, rules.imageTokens)),
  input_audio: (part, prompt) => addFixed(prompt, audioTokens(part.input_audio)),
  file: (part, prompt, rules) => addFile(part.file, prompt, rules.imageTokens),
};

const MESSAGE_FIELDS_COUNTED_ELSEWHERE = new Set(['role', 'name', 'content', 'refusal', 'tool_call_id', 'tool_calls', 'function_call']);

/** Walks the request body and lists every text the prompt estimate encodes. Never throws on odd shapes. */
export function collectPromptTexts(body: unknown, rules: PromptRules): PromptTexts {
  const prompt: PromptTexts = { texts: [], fixedTokens: REPLY_PRIMING_TOKENS, predictedTexts: [] };
  if (!isJsonObject(body)) return prompt;
  for (const message of arrayOrEmpty(body.messages)) {
    if (isJsonObject(message)) collectMessage(message, prompt, rules);
  }
  collectDefinitions(arrayOrEmpty(body.tools), prompt);
  collectDefinitions(arrayOrEmpty(body.functions), prompt);
  const format = body.response_format;
  if (isJsonObject(format) && format.type === 'json_schema') addText(prompt, jsonText(format.json_schema));
  // Predicted Outputs: tokens of the prediction the model does not use are billed as output.
  const prediction = body.prediction;
  if (isJsonObject(prediction)) {
    const parts = typeof prediction.content === 'string' ? [prediction.content] : arrayOrEmpty(prediction.content).map((part) => (isJsonObject(part) ? part.text : ''));
    for (const text of parts) if (typeof text === 'string' && text !== '') prompt.predictedTexts.push(text);
  }
  return prompt;
}

function collectMessage(message: JsonObject, prompt: PromptTexts, rules: PromptRules): void {
  prompt.fixedTokens += TOKENS_PER_MESSAGE;
  addText(prompt, message.role);
  if (typeof message.name === 'string') {
    addText(prompt, message.name);
    prompt.fixedTokens += TOKENS_PER_NAME;
  }
  if (typeof message.content === 'string') addText(prompt, message.content);
  else for (const part of arrayOrEmpty(message.content)) collectPart(part, prompt, rules);
  // Assistant turns replayed with their tool calls, and tool results pointing back at them.
  addText(prompt, message.refusal);
  addText(prompt, message.tool_call_id);
  for (const call of arrayOrEmpty(message.tool_calls)) addText(prompt, jsonText(call));
  addText(prompt, jsonText(message.function_call));
  for (const [field, value] of Object.entries(message)) {
    if (!MESSAGE_FIELDS_COUNTED_ELSEWHERE.has(field)) addText(prompt, jsonText(value));
  }
}

function collectPart(part: unknown, prompt: PromptTexts, rules: PromptRules): void {
  if (!isJsonObject(part)) return;
  const estimate = typeof part.type === 'string' ? PART_ESTIMATORS[part.type] : undefined;
  // A part type this walk does not know counts as its JSON text (validation refuses such parts today).
  if (estimate) estimate(part, prompt, rules);
  else addText(prompt, jsonText(part));
}

function imageUrlTokens(image: unknown, rule: ImageTokenRule): number {
  if (!isJsonObject(image)) return worstImageTokens(rule);
  const detail: ImageDetail = image.detail === 'low' || image.detail === 'high' ? image.detail : 'auto';
  const url = stringOrEmpty(image.url);
  return imageTokens(rule, detail, url.startsWith('data:') ? imageSizeFromUrl(url) : null);
}

function audioTokens(audio: unknown): number {
  const data = isJsonObject(audio) ? stringOrEmpty(audio.data) : '';
  return Math.ceil(base64DecodedLength(data) / AUDIO_BYTES_PER_TOKEN);
}

function addFile(file: unknown, prompt: PromptTexts, rule: ImageTokenRule): void {
  if (!isJsonObject(file)) return;
  addText(prompt, file.filename);
  if (typeof file.file_data !== 'string') {
    addFixed(prompt, file.file_id === undefined ? 0 : UNBOUNDED_PART_TOKENS);
    return;
  }
  const bytes = dataUrlBytes(file.file_data);
  const pages = Math.ceil(bytes / FILE_BYTES_PER_PAGE);
  addFixed(prompt, Math.ceil(bytes * FILE_TEXT_TOKENS_PER_BYTE) + pages * worstImageTokens(rule));
}

/** Decoded size of a data URL's payload (or of bare base64); a percent-encoded payload counts 3 bytes a character. */
function dataUrlBytes(data: string): number {
  if (!data.startsWith('data:')) return base64DecodedLength(data);
  const comma = data.indexOf(',');
  if (comma === -1) return 0;
  const isBase64 = /;base64$/i.test(data.slice(0, comma));
  return isBase64 ? base64DecodedLength(data, comma + 1) : 3 * (data.length - comma - 1);
}

function collectDefinitions(definitions: readonly unknown[], prompt: PromptTexts): void {
  if (definitions.length === 0) return;
  prompt.fixedTokens += TOOL_DEFINITIONS_OVERHEAD;
  for (const definition of definitions) addText(prompt, jsonText(definition));
}

function addText(prompt: PromptTexts, value: unknown): void {
  const text = stringOrEmpty(value);
  if (text !== '') prompt.texts.push(text);
}

function addFixed(prompt: PromptTexts, tokens: number): void {
  prompt.fixedTokens = Math.min(UNBOUNDED_PART_TOKENS, prompt.fixedTokens + tokens);
}

/** Absent values carry no prompt text (JSON.stringify(undefined) is undefined). */
function jsonText(value: unknown): string {
  return value === undefined || value === null ? '' : (JSON.stringify(value) ?? '');
}
