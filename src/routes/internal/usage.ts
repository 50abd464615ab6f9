// POST /internal/usage: an app that called a provider itself reports the usage, and it is priced and
// charged like proxied usage — held and captured through the hold store (so the Redis balance mirror
// stays right), then settled into usage_events and the ledger by the settler. Idempotent on
// idempotencyKey (24 h in the idempotency store, for ever through usage_events.id); a balance that
// cannot pay is 402 and nothing is written.
import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { findAccount } from '../../accounts/accounts.js';
import { captureServed } from '../../billing/capture.js';
import type { Settlement } from '../../billing/holds/types.js';
import { priceReportedUsage } from '../../billing/reported-usage.js';
import { usageEvents } from '../../db/schema.js';
import { parseBody } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { ApiError, badRequest, insufficientBalance, notFound } from '../../http/errors.js';
import { storedText } from '../admin/schemas.js';
import { fingerprintOf, isStored } from '../../billing/idempotency-store.js';

export const internalUsage = new Hono<AppEnv>();

const count = z.number().int().min(0).max(1_000_000_000);

export const internalUsageSchema = z.strictObject({
  accountId: z.string().min(1).max(200),
  model: z.string().min(1).max(200),
  operation: storedText(100),
  inputTokens: count,
  outputTokens: count,
  cachedTokens: count.default(0),
  images: count.default(0),
  /** Image models only: the size and quality the image was priced at. */
  size: z.string().min(1).max(50).optional(),
  quality: z.string().min(1).max(50).optional(),
  idempotencyKey: z.string().trim().min(1).max(200),
});

type Input = z.infer<typeof internalUsageSchema>;

// Internal usage keys are one namespace for the whole deployment (the secret's holder is one party).
const SCOPE = 'internal';
const PENDING_SECONDS = 60;

/** usage_events.id and the ledger reference: derived from the key, so a replay hits the unique indexes. */
export const internalRequestId = (idempotencyKey: string) => `iu_${createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 32)}`;

internalUsage.post('/usage', async (c) => {
  const deps = c.get('deps');
  const input = await parseBody(c, internalUsageSchema);
  const model = deps.prices.all().find((m) => m.id === input.model);
  if (!model) throw badRequest(`The model '${input.model}' does not exist or has no price.`, 'model', 'model_not_found');
  const priced = priceReportedUsage(model, input);
  if (!priced.ok) throw badRequest(`Invalid '${priced.param}': ${priced.message}.`, priced.param);
  const account = await findAccount(deps.db, input.accountId);
  if (!account) throw notFound(`No account with id '${input.accountId}'.`);

  const requestId = internalRequestId(input.idempotencyKey);
  const fingerprint = fingerprintOf(canonical(input));
  // The marker outlives the request by far (it is short); a crash frees the key after this.
  const start = await deps.idempotency.start(SCOPE, input.idempotencyKey, fingerprint, PENDING_SECONDS);
  if (start.state === 'replay' && isStored(start.response)) return replay(c, JSON.parse(Buffer.from(start.response.bodyBase64, 'base64').toString('utf8')));
  if (start.state === 'replay') throw reused(); // never written by this route
  if (start.state === 'mismatch') throw reused();
  if (start.state === 'in_progress') {
    throw new ApiError(409, 'idempotency_in_progress', 'A report with this idempotencyKey is still being recorded; retry shortly.', 'conflict_error', 'idempotencyKey');
  }

  try {
    // Recorded before the idempotency store's 24 hours, or before Redis lost it: Postgres remembers.
    const [recorded] = await deps.db.select().from(usageEvents).where(eq(usageEvents.id, requestId));
    if (recorded) {
      const same =
        recorded.accountId === input.accountId && recorded.model === input.model && recorded.operation === input.operation &&
        recorded.inputTokens === input.inputTokens && recorded.cachedInputTokens === input.cachedTokens &&
        recorded.outputTokens === input.outputTokens && recorded.images === input.images;
      if (!same) throw reused();
      const body = view(input, requestId, recorded.cost, null, recorded.createdAt.toISOString());
      await remember(c, input, fingerprint, body);
      return replay(c, body);
    }

    const createdAt = new Date().toISOString();
    if (priced.costTokens > 0) {
      const hold = await deps.holds.reserve({
        accountId: account.id,
        holdId: requestId,
        amountTokens: priced.costTokens,
        minimumTokens: priced.costTokens, // all or nothing
        ttlSeconds: deps.config.HOLD_TTL_SECONDS,
      });
      if (!hold.ok) {
        throw insufficientBalance(`Insufficient balance: this usage costs ${priced.costTokens} tokens and ${Math.max(0, hold.availableTokens)} are available. Nothing was recorded.`);
      }
    }
    const settlement: Settlement = {
      requestId,
      accountId: account.id,
      keyId: null,
      model: model.id,
      provider: model.provider,
      operation: input.operation,
      inputTokens: input.inputTokens,
      cachedInputTokens: input.cachedTokens,
      outputTokens: input.outputTokens,
      reasoningTokens: 0,
      images: input.images,
      costTokens: priced.costTokens,
      rates: priced.rates,
      usageSource: 'provider',
      status: 'ok',
      latencyMs: 0,
      stream: false,
      createdAt,
    };
    const { balanceTokens } = await captureServed(deps.holds, deps.db, deps.log, settlement);
    deps.metrics.tokensMetered(model.id, settlement); // billed like proxied usage, so counted with it
    // A capture that found this hold already captured (a replay that outlived every record) charged
    // nothing and left the new hold open: end it. A no-op otherwise.
    await deps.holds.void(account.id, requestId).catch((error: unknown) => deps.log.warn({ err: error, requestId }, 'could not end an internal usage hold; it expires'));
    const body = view(input, requestId, priced.costTokens, balanceTokens, createdAt);
    await remember(c, input, fingerprint, body);
    return c.json({ ...body, replayed: false }, 201);
  } catch (error) {
    await deps.idempotency.abandon(SCOPE, input.idempotencyKey).catch(() => undefined);
    throw error;
  }
});

function view(input: Input, id: string, costTokens: number, balanceTokens: number | null, createdAt: string) {
  return {
    id,
    object: 'usage',
    accountId: input.accountId,
    model: input.model,
    operation: input.operation,
    inputTokens: input.inputTokens,
    cachedTokens: input.cachedTokens,
    outputTokens: input.outputTokens,
    images: input.images,
    cost: costTokens,
    balance: balanceTokens,
    idempotencyKey: input.idempotencyKey,
    createdAt,
  };
}

const replay = (c: Context<AppEnv>, body: Record<string, unknown>) => c.json({ ...body, replayed: true }, 200);

const reused = () => new ApiError(409, 'idempotency_key_reused', 'This idempotencyKey was already used for a different report.', 'conflict_error', 'idempotencyKey');

async function remember(c: Context<AppEnv>, input: Input, fingerprint: string, body: Record<string, unknown>): Promise<void> {
  const { idempotency, log } = c.get('deps');
  try {
    await idempotency.complete(SCOPE, input.idempotencyKey, fingerprint, { status: 200, headers: {}, bodyBase64: Buffer.from(JSON.stringify(body)).toString('base64') });
  } catch (error) {
    // Charged once already: a retry finds the usage row in Postgres (or the in-progress marker).
    log.error({ err: error }, 'could not store an internal usage result for replays');
  }
}

/** The same report always has the same fingerprint, whatever the order of its fields. */
function canonical(input: Input): string {
  return JSON.stringify(Object.fromEntries(Object.entries(input).sort(([a], [b]) => a.localeCompare(b))));
}
