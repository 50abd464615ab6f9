// The Postgres data model (SPEC section 6). Table and column names are a contract: operators query them.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

// Money columns are bigint in Postgres and checked safe integers in JS (see src/billing/money.ts).
const tokens = (name: string) => bigint(name, { mode: 'number' });
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const accounts = pgTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    email: text('email'),
    status: text('status', { enum: ['active', 'suspended'] }).notNull().default('active'),
    balance: tokens('balance').notNull().default(0),
    lowBalanceThreshold: tokens('low_balance_threshold'),
    autoRechargeEnabled: boolean('auto_recharge_enabled').notNull().default(false),
    autoRechargeThreshold: tokens('auto_recharge_threshold'),
    autoRechargePackageId: text('auto_recharge_package_id'),
    autoRechargeMonthlyLimitTokens: tokens('auto_recharge_monthly_limit_tokens'),
    stripeCustomerId: text('stripe_customer_id'),
    // Auto-recharge failures in a row (reset by a success or by enabling it again), the last one, and
    // when the next attempt may start (back-off). Written by src/stripe/auto-recharge.ts.
    autoRechargeFailures: integer('auto_recharge_failures').notNull().default(0),
    autoRechargeLastError: jsonb('auto_recharge_last_error').$type<AutoRechargeError>(),
    autoRechargeRetryAt: timestamp('auto_recharge_retry_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('accounts_created_at_idx').on(t.createdAt), check('accounts_status_check', sql`${t.status} in ('active', 'suspended')`)],
);

export interface AutoRechargeError {
  code: string;
  declineCode: string | null;
  message: string;
  paymentIntentId: string | null;
  at: string; // ISO time
}

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull().references(() => accounts.id),
    keyHash: text('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    role: text('role', { enum: ['user', 'admin', 'auditor'] }).notNull().default('user'),
    name: text('name').notNull(),
    rpm: integer('rpm'),
    tpm: integer('tpm'),
    budgetTokens: tokens('budget_tokens'),
    models: text('models').array(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('api_keys_key_hash_idx').on(t.keyHash),
    index('api_keys_account_idx').on(t.accountId),
    check('api_keys_role_check', sql`${t.role} in ('user', 'admin', 'auditor')`),
  ],
);

export const usageEvents = pgTable(
  'usage_events',
  {
    id: text('id').primaryKey(), // the request id
    accountId: text('account_id').notNull().references(() => accounts.id),
    keyId: text('key_id'),
    model: text('model').notNull(),
    provider: text('provider').notNull(),
    operation: text('operation'),
    inputTokens: integer('input_tokens').notNull().default(0),
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    images: integer('images').notNull().default(0),
    /** Built-in tool calls billed per call, by tool (`{"web_search": 2}`); null when none. */
    toolCalls: jsonb('tool_calls').$type<Record<string, number>>(),
    cost: tokens('cost').notNull(),
    rates: jsonb('rates').notNull(),
    usageSource: text('usage_source', { enum: ['provider', 'estimated'] }).notNull(),
    status: text('status', { enum: ['ok', 'error', 'client_aborted', 'interrupted'] }).notNull(),
    latencyMs: integer('latency_ms').notNull().default(0),
    stream: boolean('stream').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    // Account listings page on (created_at, id) descending: the id makes the keyset total. The summary
    // and filters (model, operation, key) read the account's rows in a range through the same index.
    index('usage_events_account_created_id_idx').on(t.accountId, t.createdAt, t.id),
    // Gateway-wide stats over a range (GET /admin/stats/models, /operations).
    index('usage_events_created_idx').on(t.createdAt),
  ],
);

export const ledgerTypes = [
  'purchase',
  'grant',
  'deduction',
  'usage',
  'refund',
  'dispute',
  'dispute_won',
  'auto_recharge',
  'adjustment',
] as const;
export type LedgerType = (typeof ledgerTypes)[number];

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: text('account_id').notNull().references(() => accounts.id),
    type: text('type', { enum: ledgerTypes }).notNull(),
    amount: tokens('amount').notNull(),
    balanceAfter: tokens('balance_after').notNull(),
    reference: text('reference').notNull(),
    metadata: jsonb('metadata').notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('ledger_entries_type_reference_idx').on(t.type, t.reference),
    // An admin's idempotency key names one posting whatever its sign: a grant and a deduction may not
    // share a reference (otherwise +500 and -300 sent at once with one key would both be written).
    uniqueIndex('ledger_entries_grant_reference_idx').on(t.reference).where(sql`${t.type} in ('grant', 'deduction')`),
    index('ledger_entries_account_id_idx').on(t.accountId, t.id),
    // GET /admin/stats/tokens over a range (flows and Stripe revenue).
    index('ledger_entries_created_idx').on(t.createdAt),
  ],
);

export const packages = pgTable('packages', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  tokens: tokens('tokens').notNull(),
  priceCents: integer('price_cents').notNull(),
  currency: text('currency').notNull().default('usd'),
  active: boolean('active').notNull().default(true),
  sortOrder: integer('sort_order').notNull().default(0),
  createdAt: createdAt(),
});

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

// Responses are stored at the provider under the operator's account, so the gateway records which
// account created each one: reads, deletes and continuations (previous_response_id, item_reference)
// are allowed only to that account. Its usage (null until it finished with one) bounds what continuing
// from it adds to the next prompt, for that request's hold: input + output tokens after
// previous_response_id, output tokens for an item_reference to one of its output items.
export const storedResponses = pgTable(
  'stored_responses',
  {
    id: text('id').primaryKey(), // the provider's response id (resp_...)
    accountId: text('account_id').notNull().references(() => accounts.id),
    requestId: text('request_id').notNull(),
    model: text('model').notNull(),
    provider: text('provider').notNull(),
    inputTokens: integer('input_tokens'),
    outputTokens: integer('output_tokens'),
    createdAt: createdAt(),
  },
  (t) => [index('stored_responses_account_created_idx').on(t.accountId, t.createdAt)],
);

// The output items of stored responses, which later requests may name in `item_reference` input items.
export const storedResponseItems = pgTable(
  'stored_response_items',
  {
    id: text('id').primaryKey(), // the provider's item id (msg_..., fc_..., rs_...)
    responseId: text('response_id')
      .notNull()
      .references(() => storedResponses.id, { onDelete: 'cascade' }),
    accountId: text('account_id').notNull().references(() => accounts.id),
  },
  (t) => [index('stored_response_items_response_idx').on(t.responseId)],
);

export const stripeEvents = pgTable('stripe_events', {
  id: text('id').primaryKey(), // Stripe's event id: a replayed webhook hits this key
  type: text('type').notNull(),
  accountId: text('account_id'), // the account the event changed, so a replay can reset its mirror
  createdAt: createdAt(),
});

// Money that went back to the customer through Stripe: refunds (re_...) and disputes (du_...). A row is
// what Stripe told us; `tokens` is what was taken back from the account (null until it was, e.g. while
// the purchase itself is not credited yet), `restored` whether it was given back (a won dispute, a
// failed refund). The ledger rows carry the same ids as references.
export const stripeReversals = pgTable(
  'stripe_reversals',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['refund', 'dispute'] }).notNull(),
    paymentIntentId: text('payment_intent_id').notNull(),
    chargeId: text('charge_id'),
    amountCents: bigint('amount_cents', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    status: text('status').notNull(), // Stripe's own status of the refund or dispute
    accountId: text('account_id').references(() => accounts.id),
    tokens: tokens('tokens'),
    restored: boolean('restored').notNull().default(false),
    suspendedAccount: boolean('suspended_account').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('stripe_reversals_payment_intent_idx').on(t.paymentIntentId), index('stripe_reversals_account_idx').on(t.accountId)],
);

// One off-session PaymentIntent per row. At most one row per account is pending (the unique index is
// the lock); tokens are credited only when payment_intent.succeeded arrives.
export const autoRechargeAttempts = pgTable(
  'auto_recharge_attempts',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull().references(() => accounts.id),
    packageId: text('package_id').notNull(),
    tokens: tokens('tokens').notNull(),
    amountCents: integer('amount_cents').notNull(),
    currency: text('currency').notNull(),
    status: text('status', { enum: ['pending', 'succeeded', 'failed'] }).notNull().default('pending'),
    paymentIntentId: text('payment_intent_id'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('auto_recharge_one_pending_idx').on(t.accountId).where(sql`status = 'pending'`),
    index('auto_recharge_account_created_idx').on(t.accountId, t.createdAt),
    check('auto_recharge_status_check', sql`${t.status} in ('pending', 'succeeded', 'failed')`),
  ],
);

// One row per crossing of an account's available balance below its low-balance threshold (not one per
// request). `ledger_id` is the account's last ledger row when it fired: a credit after it that lifts the
// balance back to the threshold re-arms the alert. The webhook columns record its delivery.
export const balanceAlerts = pgTable(
  'balance_alerts',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull().references(() => accounts.id),
    threshold: tokens('threshold').notNull(),
    balance: tokens('balance').notNull(),
    available: tokens('available').notNull(),
    ledgerId: bigint('ledger_id', { mode: 'number' }).notNull(),
    webhookStatus: text('webhook_status', { enum: ['none', 'pending', 'delivered', 'failed', 'refused'] }).notNull().default('none'),
    webhookAttempts: integer('webhook_attempts').notNull().default(0),
    webhookError: text('webhook_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('balance_alerts_account_created_idx').on(t.accountId, t.createdAt)],
);
