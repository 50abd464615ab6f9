// A settlement record as the proxy queues it, for tests that drive the hold store or the settler directly.
import { randomUUID } from 'node:crypto';
import type { Settlement } from '../../src/billing/holds/types.js';

/** A `mock` request that cost `costTokens`: all of it input at 1 token per token. */
export function settlementFor(accountId: string, costTokens: number, extra: Partial<Settlement> = {}): Settlement {
  return {
    requestId: `req_${randomUUID()}`,
    accountId,
    keyId: null,
    model: 'mock',
    provider: 'mock',
    operation: null,
    inputTokens: costTokens,
    cachedInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    images: 0,
    costTokens,
    rates: { input: 1_000_000, cachedInput: 500_000, output: 2_000_000, per: 1_000_000 },
    usageSource: 'provider',
    status: 'ok',
    latencyMs: 1,
    stream: false,
    createdAt: new Date().toISOString(),
    ...extra,
  };
}
