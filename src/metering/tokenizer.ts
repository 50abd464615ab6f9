/**
 * Token counting with tiktoken: prompt estimates for the hold (SPEC 3.4) and output estimates when a
 * provider reports no usage (SPEC 3.6).
 *
 * The prompt estimate follows OpenAI's published chat counting rule (3 tokens per message, 1 more
 * for a `name`, 3 to prime the reply) and extends it to parts the rule does not cover. Each
 * extension errs upward, because the estimate sizes a hold: tool and function definitions and
 * `response_format` schemas are counted as their JSON text, which is longer than the compact form
 * the provider renders; assistant tool calls are counted as their full JSON. Known gaps that can
 * undercount: images cost a fixed 85 (low detail) or 765 tokens, which is gpt-4o's high-detail
 * cost for images up to a 4:3 aspect ratio but low for wider ones (16:9 costs 1,105, the extreme
 * 1,445) and for models that price images differently (gpt-4o-mini); audio and file parts are not
 * counted. Settlement uses the
 * provider's own usage whenever it reports one, so these gaps only affect the size of the hold.
 */
import type OpenAI from 'openai';
import { get_encoding, type Tiktoken } from 'tiktoken';
import type { GeneratedOutput } from './generated.js';
import { arrayOrEmpty, isJsonObject, stringOrEmpty, type JsonObject } from './guards.js';
import { countTextsInWorker, liveTokenizerWorkers } from './tokenizer-workers.js';

export { closeTokenizerWorkers } from './tokenizer-workers.js';

export type TokenizerEncoding = 'o200k_base' | 'cl100k_base';

/**
 * A chat completion request body, typed or as parsed JSON. Only model, messages and the output caps
 * are validated before metering (SPEC 3.2), so the walk checks every shape and skips what it does not
 * recognize instead of throwing.
 */
export type PromptBody = OpenAI.Chat.ChatCompletionCreateParams | Record<string, unknown>;

export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;
export const IMAGE_TOKENS_LOW_DETAIL = 85;
export const IMAGE_TOKENS_DEFAULT = 765;
/** The wrapper the provider puts around tool definitions in the system prompt. */
export const TOOL_DEFINITIONS_OVERHEAD = 12;
/** Formatting the model emits around each tool call, beyond its name and arguments. */
export const TOKENS_PER_GENERATED_TOOL_CALL = 4;
/**
 * Prompts with less text than this (about 8k tokens, 10-20 ms of encoding on a 2-core machine) are
 * counted inline: a short stall, and the common small request skips the thread hop.
 */
export const INLINE_COUNT_MAX_CHARS = 32 * 1024;

/** The text to encode plus the tokens that come from fixed overheads rather than text. */
export type PromptTexts = { texts: string[]; fixedTokens: number };

const encoders = new Map<TokenizerEncoding, Tiktoken>();

const routing = { inlineCounts: 0, workerCounts: 0, workerFallbacks: 0, lastWorkerError: null as string | null };

function encoderFor(encoding: TokenizerEncoding): Tiktoken {
  let encoder = encoders.get(encoding);
  if (encoder === undefined) {
    // Loading an encoding takes ~0.1-0.4 s, so each is created once and kept for the process's life.
    encoder = get_encoding(encoding);
    encoders.set(encoding, encoder);
  }
  return encoder;
}

/** Loads encodings ahead of the first request (e.g. at server start) so no request pays for it. */
export function warmTokenizers(encodings: readonly TokenizerEncoding[]): void {
  for (const encoding of encodings) encoderFor(encoding);
}

/** Special-token text such as `<|endoftext|>` in user content is counted as ordinary text, as providers do. */
export function countTokens(text: string, encoding: TokenizerEncoding): number {
  if (text === '') return 0;
  return encoderFor(encoding).encode_ordinary(text).length;
}

export function estimatePromptTokens(body: PromptBody, encoding: TokenizerEncoding): number {
  const prompt = collectPromptTexts(body);
  return prompt.fixedTokens + countTexts(prompt.texts, encoding);
}

/**
 * Same number as estimatePromptTokens, but a prompt with INLINE_COUNT_MAX_CHARS or more of text is
 * encoded in a worker thread so a large prompt does not stall other requests. If the worker fails,
 * the prompt is counted inline rather than failing the request; tokenizerStats() records it.
 */
export async function estimatePromptTokensAsync(body: PromptBody, encoding: TokenizerEncoding): Promise<number> {
  const prompt = collectPromptTexts(body);
  if (totalLength(prompt.texts) < INLINE_COUNT_MAX_CHARS) {
    routing.inlineCounts++;
    return prompt.fixedTokens + countTexts(prompt.texts, encoding);
  }
  try {
    const tokens = await countTextsInWorker(prompt.texts, encoding);
    routing.workerCounts++;
    return prompt.fixedTokens + tokens;
  } catch (error) {
    routing.workerFallbacks++;
    routing.lastWorkerError = error instanceof Error ? error.message : String(error);
    return prompt.fixedTokens + countTexts(prompt.texts, encoding);
  }
}

export type TokenizerStats = {
  inlineCounts: number;
  workerCounts: number;
  workerFallbacks: number;
  lastWorkerError: string | null;
  liveWorkers: number;
};

/** How estimatePromptTokensAsync routed its work; for metrics and tests. */
export function tokenizerStats(): TokenizerStats {
  return { ...routing, liveWorkers: liveTokenizerWorkers() };
}

/**
 * Output estimate when the provider reported none. Reasoning tokens never appear in the stream, so
 * for reasoning models this undercounts; it is a floor, used only when nothing better exists.
 */
export function countCompletionTokens(generated: GeneratedOutput, encoding: TokenizerEncoding): number {
  let tokens = countTokens(generated.content, encoding);
  for (const call of generated.toolCalls) {
    tokens += TOKENS_PER_GENERATED_TOOL_CALL + countTokens(call.name, encoding) + countTokens(call.arguments, encoding);
  }
  return tokens;
}

/** Walks the request body and lists every text the prompt estimate encodes. */
export function collectPromptTexts(body: PromptBody): PromptTexts {
  const prompt: PromptTexts = { texts: [], fixedTokens: REPLY_PRIMING_TOKENS };
  const request: unknown = body;
  if (!isJsonObject(request)) return prompt;
  for (const message of arrayOrEmpty(request.messages)) {
    if (isJsonObject(message)) collectMessage(message, prompt);
  }
  collectDefinitions(arrayOrEmpty(request.tools), prompt);
  collectDefinitions(arrayOrEmpty(request.functions), prompt);
  const format = request.response_format;
  if (isJsonObject(format) && format.type === 'json_schema') addText(prompt, jsonText(format.json_schema));
  return prompt;
}

function collectMessage(message: JsonObject, prompt: PromptTexts): void {
  prompt.fixedTokens += TOKENS_PER_MESSAGE;
  addText(prompt, message.role);
  if (typeof message.name === 'string') {
    addText(prompt, message.name);
    prompt.fixedTokens += TOKENS_PER_NAME;
  }
  if (typeof message.content === 'string') addText(prompt, message.content);
  else for (const part of arrayOrEmpty(message.content)) collectPart(part, prompt);
  // Assistant turns replayed with their tool calls, and tool results pointing back at them.
  addText(prompt, message.refusal);
  addText(prompt, message.tool_call_id);
  for (const call of arrayOrEmpty(message.tool_calls)) addText(prompt, jsonText(call));
  addText(prompt, jsonText(message.function_call));
}

function collectPart(part: unknown, prompt: PromptTexts): void {
  if (!isJsonObject(part)) return;
  switch (part.type) {
    case 'text':
      addText(prompt, part.text);
      break;
    case 'refusal':
      addText(prompt, part.refusal);
      break;
    case 'image_url':
      prompt.fixedTokens += imageTokens(part.image_url);
      break;
    default:
      // Audio and file parts: their token cost is not derivable from the request (see module comment).
      break;
  }
}

function imageTokens(image: unknown): number {
  return isJsonObject(image) && image.detail === 'low' ? IMAGE_TOKENS_LOW_DETAIL : IMAGE_TOKENS_DEFAULT;
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

/** Absent values carry no prompt text (JSON.stringify(undefined) is undefined). */
function jsonText(value: unknown): string {
  return value === undefined || value === null ? '' : (JSON.stringify(value) ?? '');
}

function countTexts(texts: readonly string[], encoding: TokenizerEncoding): number {
  let tokens = 0;
  for (const text of texts) tokens += countTokens(text, encoding);
  return tokens;
}

function totalLength(texts: readonly string[]): number {
  let length = 0;
  for (const text of texts) length += text.length;
  return length;
}
