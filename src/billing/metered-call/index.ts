// The metered-call lifecycle every /v1 route runs (SPEC section 3): Idempotency-Key, hold, forward,
// count, settle. Routes parse and validate their body and build a MeteredOperation; this does the rest.
import type { Deps } from '../../deps.js';
import { MeteredCall } from './call.js';
import { IdempotencyGate } from './idempotency-gate.js';
import type { MeteredOperation, MeteredRequest } from './types.js';

export type { MeteredOperation, MeteredRequest, MeteredUsage, HoldRequestPlan, StreamMeter, StreamReading } from './types.js';
export { NO_USAGE } from './types.js';

export async function runMeteredCall(deps: Deps, request: MeteredRequest, op: MeteredOperation): Promise<Response> {
  const opening = await IdempotencyGate.open(deps, request);
  if ('replay' in opening) return opening.replay;
  const call = new MeteredCall(deps, request, op, opening.gate);
  try {
    await call.reserve();
  } catch (error) {
    await opening.gate.abandon();
    throw error;
  }
  return call.run();
}
