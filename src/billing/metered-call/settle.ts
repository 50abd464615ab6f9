// The end of every metered call: one settlement record, captured against the hold (SPEC 3.7).
import type { Deps } from '../../deps.js';
import { captureServed } from '../capture.js';
import type { Settlement } from '../holds/types.js';
import type { MeteredOperation, MeteredRequest, MeteredUsage } from './types.js';

export interface Outcome {
  usage: MeteredUsage;
  source: Settlement['usageSource'];
  status: Settlement['status'];
}

const MAX_OPERATION_LENGTH = 100;

export function settlementOf(request: MeteredRequest, op: MeteredOperation, startedAt: number, outcome: Outcome): Settlement {
  const { usage } = outcome;
  return {
    requestId: request.requestId,
    accountId: request.auth.accountId,
    keyId: request.auth.key.id,
    model: op.model.id,
    provider: op.model.provider,
    operation: request.header('x-tokengate-operation')?.slice(0, MAX_OPERATION_LENGTH) || op.defaultOperation,
    inputTokens: usage.inputTokens,
    cachedInputTokens: usage.cachedInputTokens,
    outputTokens: usage.outputTokens,
    reasoningTokens: usage.reasoningTokens,
    images: usage.images,
    costTokens: op.costOf(usage),
    rates: op.ratesFor?.(usage) ?? op.rates,
    usageSource: outcome.source,
    status: outcome.status,
    latencyMs: Date.now() - startedAt,
    stream: op.stream,
    createdAt: new Date(startedAt).toISOString(),
  };
}

/** Captures the cost against the hold (releasing the rest) and queues the durable settlement. */
export async function settle(deps: Deps, settlement: Settlement): Promise<{ costTokens: number; balanceTokens: number }> {
  const { balanceTokens } = await captureServed(deps.holds, deps.db, deps.log, settlement);
  return { costTokens: settlement.costTokens, balanceTokens };
}
