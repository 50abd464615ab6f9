/**
 * Token counting with tiktoken: prompt estimates for the hold (SPEC 3.4) and output estimates when a
 * provider reports no usage (SPEC 3.6).
 *
 * The prompt estimate is an upper bound of what the provider bills, built from three parts:
 * - what the prompt contains (tokenizer-prompt.ts: texts, per-message overhead, images by the
 *   model's rule, audio and files by their bytes);
 * - the texts counted in bounded pieces (tokenizer-pieces.ts: exact for ordinary text, a UTF-8 byte
 *   count for runs too long to encode cheaply), so no encode call takes more than about a
 *   millisecond and a count costs at most ~2 µs a character;
 * - a cap at the model's context window (the provider refuses, unbilled, a longer prompt).
 * Settlement uses the provider's own usage whenever it reports one: the estimate only sizes the hold
 * (and bills a request that ends without usage).
 */
import type OpenAI from 'openai';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { MOST_EXPENSIVE_IMAGE_RULE, type ChatModel } from '../billing/price-table.js';
import type { GeneratedOutput } from './generated.js';
import { countTextBounded } from './tokenizer-pieces.js';
import { collectPromptTexts, type PromptTexts } from './tokenizer-prompt.js';
import { countTextsInWorker, liveTokenizerWorkers } from './tokenizer-workers.js';

export { closeTokenizerWorkers } from './tokenizer-workers.js';
export { collectPromptTexts, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOKENS_PER_NAME, TOOL_DEFINITIONS_OVERHEAD } from './tokenizer-prompt.js';

export type TokenizerEncoding = 'o200k_base' | 'cl100k_base';

/**
 * A chat completion request body, typed or as parsed JSON. The walk checks every shape and skips
 * what it does not recognize instead of throwing.
 */
export type PromptBody = OpenAI.Chat.ChatCompletionCreateParams | Record<string, unknown>;

/** What the prompt estimate needs to know of a model. */
export type PromptModel = Pick<ChatModel, 'encoding' | 'imageTokens' | 'contextWindow' | 'input' | 'output'>;

export interface PromptMeasure {
  /** Cheap upper bound (UTF-8 bytes of the texts plus the fixed part costs); never below `count()`. */
  boundTokens: number;
  /** True when count() is cheap enough that the caller should just await it. */
  cheap: boolean;
  /** The estimate the hold is sized from; small prompts inline, large ones in a worker; never blocks the event loop for more than a few ms. */
  count(): Promise<number>;
}

/** Formatting the model emits around each tool call, beyond its name and arguments. */
export const TOKENS_PER_GENERATED_TOOL_CALL = 4;
/**
 * Prompts with at most this much text (UTF-16 units) are counted inline: at most ~2 µs a character
 * (long runs of CJK, the slowest to encode below the run limit), so a few ms at worst and well under a
 * millisecond for ordinary text; larger prompts go to a worker thread.
 */
export const INLINE_COUNT_MAX_CHARS = 2048;
/** Texts up to this length get their exact UTF-8 size in the cheap bound; longer ones 3 bytes a UTF-16 unit (an upper bound). */
const EXACT_BYTES_MAX_CHARS = 64 * 1024;
/** No estimate exceeds this (it fits the usage columns, and no balance pays for it anyway). */
const MAX_ESTIMATE = 1_000_000_000;

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

/**
 * Tokens of a text: exact for ordinary text, an upper bound for runs too long to encode cheaply (see
 * tokenizer-pieces.ts). Special-token text such as `<|endoftext|>` counts as ordinary text, as
 * providers do.
 */
export function countTokens(text: string, encoding: TokenizerEncoding): number {
  if (text === '') return 0;
  const encoder = encoderFor(encoding);
  return countTextBounded(text, (piece) => encoder.encode_ordinary(piece).length);
}

/**
 * The same estimate as measurePrompt(...).count(), computed synchronously on the calling thread (for
 * the mock provider and tests; it blocks for ~2 µs a character of text). With an encoding alone, images
 * follow the most expensive rule and no context window caps the total.
 */
export function estimatePromptTokens(body: PromptBody, model: TokenizerEncoding | PromptModel): number {
  const rules = promptModel(model);
  const prompt = collectPromptTexts(body, rules);
  return finish(prompt, rules, countTexts(prompt.texts, rules.encoding), countTexts(prompt.predictedTexts, rules.encoding));
}

/** Measures a chat request's prompt for its hold: a cheap bound now, the estimate on demand. */
export function measurePrompt(body: PromptBody, model: PromptModel): PromptMeasure {
  const prompt = collectPromptTexts(body, model);
  const chars = totalLength(prompt.texts) + totalLength(prompt.predictedTexts);
  const boundTokens = finish(prompt, model, utf8Bound(prompt.texts), utf8Bound(prompt.predictedTexts));
  const cheap = chars <= INLINE_COUNT_MAX_CHARS;
  let counted: Promise<number> | undefined;
  const count = async (): Promise<number> => {
    if (cheap) {
      routing.inlineCounts++;
      return finish(prompt, model, countTexts(prompt.texts, model.encoding), countTexts(prompt.predictedTexts, model.encoding));
    }
    try {
      const [texts, predicted] = await Promise.all([
        countTextsInWorker(prompt.texts, model.encoding),
        prompt.predictedTexts.length > 0 ? countTextsInWorker(prompt.predictedTexts, model.encoding) : 0,
      ]);
      routing.workerCounts++;
      return finish(prompt, model, texts, predicted);
    } catch (error) {
      // Counting inline could block for seconds: the cheap bound is a correct (if generous) answer.
      routing.workerFallbacks++;
      routing.lastWorkerError = error instanceof Error ? error.message : String(error);
      return boundTokens;
    }
  };
  return { boundTokens, cheap, count: () => (counted ??= count()) };
}

export type TokenizerStats = {
  inlineCounts: number;
  workerCounts: number;
  workerFallbacks: number;
  lastWorkerError: string | null;
  liveWorkers: number;
};

/** How measurePrompt counted; for metrics and tests. */
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

function promptModel(model: TokenizerEncoding | PromptModel): PromptModel {
  // Without rates, predicted output is counted one for one (as if output cost what input does).
  return typeof model === 'string' ? { encoding: model, imageTokens: MOST_EXPENSIVE_IMAGE_RULE, input: 1, output: 1 } : model;
}

/**
 * The prompt's tokens capped by the context window, plus predicted output that may be billed (as
 * output): weighted by the output/input price ratio, so the hold (priced at the input rate) pays it.
 */
function finish(prompt: PromptTexts, model: PromptModel, textTokens: number, predictedTokens: number): number {
  const promptTokens = Math.min(model.contextWindow ?? MAX_ESTIMATE, prompt.fixedTokens + textTokens);
  const predicted = predictedTokens === 0 ? 0 : model.input > 0 ? Math.ceil((predictedTokens * model.output) / model.input) : predictedTokens;
  return Math.min(MAX_ESTIMATE, promptTokens + predicted);
}

function countTexts(texts: readonly string[], encoding: TokenizerEncoding): number {
  let tokens = 0;
  for (const text of texts) tokens += countTokens(text, encoding);
  return tokens;
}

/** An upper bound of the texts' tokens without encoding: every token is at least one UTF-8 byte. */
function utf8Bound(texts: readonly string[]): number {
  let bytes = 0;
  for (const text of texts) bytes += text.length <= EXACT_BYTES_MAX_CHARS ? Buffer.byteLength(text, 'utf8') : 3 * text.length;
  return bytes;
}

function totalLength(texts: readonly string[]): number {
  let length = 0;
  for (const text of texts) length += text.length;
  return length;
}
