// Provider-reported usage, normalized to the four counts billing needs (SPEC 1 and 3.6).
import { isJsonObject, isNonNegativeInteger } from './guards.js';

/**
 * Integers. `cachedInputTokens` is a subset of `inputTokens` and `reasoningTokens` a subset of
 * `outputTokens`, as OpenAI reports them; pricing must not add them on top.
 */
export type ProviderUsage = {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
};

/** Where a usage object keeps its counts: Chat Completions and the Responses API name them differently. */
interface UsageFields {
  input: string;
  output: string;
  inputDetails: string;
  outputDetails: string;
}

const CHAT_FIELDS: UsageFields = { input: 'prompt_tokens', output: 'completion_tokens', inputDetails: 'prompt_tokens_details', outputDetails: 'completion_tokens_details' };
const RESPONSES_FIELDS: UsageFields = { input: 'input_tokens', output: 'output_tokens', inputDetails: 'input_tokens_details', outputDetails: 'output_tokens_details' };

/**
 * Maps an OpenAI `usage` object. Returns null when usage is absent or any count is not a
 * non-negative integer, so the caller estimates instead of billing from numbers it cannot trust.
 * Missing or null detail objects mean zero cached / reasoning tokens.
 */
export function usageFromOpenAI(usage: unknown): ProviderUsage | null {
  return usageFromFields(usage, CHAT_FIELDS);
}

/**
 * Maps a Responses API `usage` object (`input_tokens`, `input_tokens_details.cached_tokens`,
 * `output_tokens`, `output_tokens_details.reasoning_tokens`); null under the same rules as above.
 */
export function usageFromResponses(usage: unknown): ProviderUsage | null {
  return usageFromFields(usage, RESPONSES_FIELDS);
}

function usageFromFields(usage: unknown, fields: UsageFields): ProviderUsage | null {
  if (!isJsonObject(usage)) return null;
  const inputTokens = usage[fields.input];
  const outputTokens = usage[fields.output];
  if (!isNonNegativeInteger(inputTokens) || !isNonNegativeInteger(outputTokens)) return null;
  const cachedInputTokens = optionalDetail(usage[fields.inputDetails], 'cached_tokens');
  const reasoningTokens = optionalDetail(usage[fields.outputDetails], 'reasoning_tokens');
  if (cachedInputTokens === null || reasoningTokens === null) return null;
  return {
    inputTokens,
    // Clamped so a provider glitch can never make the uncached remainder negative.
    cachedInputTokens: Math.min(cachedInputTokens, inputTokens),
    outputTokens,
    reasoningTokens: Math.min(reasoningTokens, outputTokens),
  };
}

/** 0 when the detail is absent, null when it is present but not a count. */
function optionalDetail(details: unknown, field: string): number | null {
  if (details === undefined || details === null) return 0;
  if (!isJsonObject(details)) return null;
  const value = details[field];
  if (value === undefined || value === null) return 0;
  return isNonNegativeInteger(value) ? value : null;
}

/** An embeddings `usage` object: `prompt_tokens` is all there is to bill; null when it is not a count. */
export function usageFromEmbeddings(usage: unknown): ProviderUsage | null {
  if (!isJsonObject(usage) || !isNonNegativeInteger(usage.prompt_tokens)) return null;
  return { inputTokens: usage.prompt_tokens, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };
}
