// What to hold before calling the provider (SPEC 3.4): pure integer math, no I/O.
import { affordableOutputTokens, chargeFor } from './pricing.js';
import type { Rates } from './price-table.js';

export interface HoldPlan {
  /** Worst case: the whole prompt plus every output token the request may produce. */
  amountTokens: number;
  /** The least hold that lets the request run: the whole worst case under `reject`, the prompt plus one output token under `clamp`. */
  minimumTokens: number;
}

export function planHold(promptTokens: number, outputCap: number, rates: Rates, policy: 'clamp' | 'reject'): HoldPlan {
  const amountTokens = chargeFor({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens: outputCap }, rates);
  const minimumTokens =
    policy === 'reject' ? amountTokens : chargeFor({ inputTokens: promptTokens, cachedInputTokens: 0, outputTokens: Math.min(1, outputCap) }, rates);
  return { amountTokens, minimumTokens };
}

/** The output cap a hold smaller than the worst case pays for (never more than the original cap). */
export function clampedOutputCap(heldTokens: number, promptTokens: number, outputCap: number, rates: Rates): number {
  return Math.max(0, Math.min(outputCap, affordableOutputTokens(heldTokens, promptTokens, rates)));
}
