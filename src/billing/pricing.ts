// Pure integer pricing (SPEC section 1): one ceil per request, cached tokens never billed twice.
import type { Rates } from './price-table.js';

export interface TokenUsage {
  inputTokens: number; // all prompt tokens, cached ones included
  cachedInputTokens: number; // the cached subset of inputTokens
  outputTokens: number; // completion tokens, reasoning included
}

const PER = 1_000_000n;

/** ceil((uncachedIn*input + cachedIn*cachedInput + out*output) / 1e6), in bigint so nothing overflows. */
export function chargeFor(usage: TokenUsage, rates: Rates): number {
  const cached = BigInt(Math.min(usage.cachedInputTokens, usage.inputTokens));
  const uncached = BigInt(usage.inputTokens) - cached;
  const micro = uncached * BigInt(rates.input) + cached * BigInt(rates.cachedInput) + BigInt(usage.outputTokens) * BigInt(rates.output);
  return Number((micro + PER - 1n) / PER);
}

/** The most output tokens that `budgetTokens` pays for after the prompt; 0 when it can't pay the prompt. */
export function affordableOutputTokens(budgetTokens: number, promptTokens: number, rates: Rates): number {
  const promptMicro = BigInt(promptTokens) * BigInt(rates.input);
  const budgetMicro = BigInt(budgetTokens) * PER;
  if (budgetMicro < promptMicro) return -1;
  if (rates.output === 0) return Number.MAX_SAFE_INTEGER;
  return Number((budgetMicro - promptMicro) / BigInt(rates.output));
}
