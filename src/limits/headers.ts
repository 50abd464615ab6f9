// Response headers for key limits: OpenAI's x-ratelimit-* (from the key's own limits) and the budget.
import type { BucketState } from './types.js';

/** OpenAI's reset format: "20ms", "1s", "6m0s", "1h2m3.5s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = Number(((total % 60_000) / 1000).toFixed(3));
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

export function rateHeaders(limits: { rpm: number | null; tpm: number | null }, requests: BucketState | null, tokens: BucketState | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (limits.rpm !== null && requests) {
    headers['x-ratelimit-limit-requests'] = String(limits.rpm);
    headers['x-ratelimit-remaining-requests'] = String(requests.remaining);
    headers['x-ratelimit-reset-requests'] = formatDuration(requests.resetMs);
  }
  if (limits.tpm !== null && tokens) {
    headers['x-ratelimit-limit-tokens'] = String(limits.tpm);
    headers['x-ratelimit-remaining-tokens'] = String(tokens.remaining);
    headers['x-ratelimit-reset-tokens'] = formatDuration(tokens.resetMs);
  }
  return headers;
}

export function budgetHeaders(budgetTokens: number, usedTokens: number, renewsAt: Date): Record<string, string> {
  return {
    'x-tokengate-budget-limit': String(budgetTokens),
    'x-tokengate-budget-remaining': String(Math.max(0, budgetTokens - usedTokens)),
    'x-tokengate-budget-reset': renewsAt.toISOString(),
  };
}
