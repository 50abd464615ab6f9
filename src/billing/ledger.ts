// The ledger: the only code that changes a balance in Postgres. Each posting locks the account row,
// appends one ledger row with its running balance_after and updates accounts.balance, in one
// transaction. (type, reference) is unique: replaying a posting returns the first result unchanged.
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { resultRows, type Db, type Tx } from '../db/client.js';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../db/errors.js';
import { accounts, ledgerEntries, type LedgerType } from '../db/schema.js';
import { assertTokens, toTokens } from './money.js';

export type LedgerEntry = typeof ledgerEntries.$inferSelect;

export interface Posting {
  accountId: string;
  type: LedgerType;
  amount: number; // signed billing tokens: credits > 0, debits < 0
  reference: string;
  metadata?: Record<string, unknown>;
  /** Debits may take the balance below zero only when this is set (usage settles what was served). */
  allowNegative?: boolean;
}

export interface PostingResult {
  entry: LedgerEntry;
  replayed: boolean;
}

export class LedgerError extends Error {
  constructor(
    readonly code: 'account_not_found' | 'insufficient_balance' | 'reference_conflict',
    message: string,
    readonly balance?: number,
  ) {
    super(message);
  }
}

/** Posts one entry in its own transaction. */
export async function post(db: Db, posting: Posting): Promise<PostingResult> {
  try {
    return await db.transaction((tx) => postInTransaction(tx, posting));
  } catch (error) {
    // Two postings with one reference for different accounts lock different rows; the unique index
    // decides, and the loser reports the winner's entry.
    if (postgresErrorCode(error) === UNIQUE_VIOLATION) {
      const existing = await findByReference(db, posting.type, posting.reference);
      if (existing) return replay(existing, posting);
    }
    throw error;
  }
}

/** Posts one entry inside a caller's transaction (used by batch settlement). */
export async function postInTransaction(tx: Tx, posting: Posting): Promise<PostingResult> {
  assertTokens(posting.amount);
  const [account] = await tx
    .select({ balance: accounts.balance })
    .from(accounts)
    .where(eq(accounts.id, posting.accountId))
    .for('update');
  if (!account) throw new LedgerError('account_not_found', `Account ${posting.accountId} does not exist.`);

  // Checked after the lock: a concurrent replay of the same reference has committed by now.
  const existing = await findByReference(tx, posting.type, posting.reference);
  if (existing) return replay(existing, posting);

  const balanceAfter = assertTokens(account.balance + posting.amount, 'balance');
  if (posting.amount < 0 && balanceAfter < 0 && !posting.allowNegative) {
    throw new LedgerError(
      'insufficient_balance',
      `This deduction of ${-posting.amount} tokens would take the balance (${account.balance}) below zero.`,
      account.balance,
    );
  }
  const [entry] = await tx
    .insert(ledgerEntries)
    .values({
      accountId: posting.accountId,
      type: posting.type,
      amount: posting.amount,
      balanceAfter,
      reference: posting.reference,
      metadata: posting.metadata ?? {},
    })
    .returning();
  await tx.update(accounts).set({ balance: balanceAfter }).where(eq(accounts.id, posting.accountId));
  return { entry: entry!, replayed: false };
}

/** An account's Postgres balance (what the ledger sums to), or null for an unknown account. */
export async function balanceOf(db: Db, accountId: string): Promise<number | null> {
  const [account] = await db.select({ balance: accounts.balance }).from(accounts).where(eq(accounts.id, accountId));
  return account ? account.balance : null;
}

async function findByReference(executor: Db | Tx, type: LedgerType, reference: string) {
  const [row] = await executor
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.type, type), eq(ledgerEntries.reference, reference)));
  return row;
}

function replay(existing: LedgerEntry, posting: Posting): PostingResult {
  if (existing.accountId !== posting.accountId) {
    throw new LedgerError('reference_conflict', `Reference ${posting.reference} was already used for another account.`);
  }
  return { entry: existing, replayed: true };
}

export interface ReconcileRow {
  accountId: string;
  balance: number;
  ledgerSum: number;
  badRunningRows: number;
}

/** Accounts whose balance differs from the sum of their ledger, or whose balance_after chain breaks. */
export const reconcileQuery = sql`
  with running as (
    select account_id, balance_after,
           sum(amount) over (partition by account_id order by id) as running_sum
    from ledger_entries
  ), sums as (
    select account_id, sum(amount) as ledger_sum from ledger_entries group by account_id
  ), bad as (
    select account_id, count(*) as bad_running_rows from running where balance_after <> running_sum group by account_id
  )
  select a.id as account_id, a.balance, coalesce(s.ledger_sum, 0) as ledger_sum, coalesce(b.bad_running_rows, 0) as bad_running_rows
  from accounts a
  left join sums s on s.account_id = a.id
  left join bad b on b.account_id = a.id
  where a.balance <> coalesce(s.ledger_sum, 0) or coalesce(b.bad_running_rows, 0) > 0
`;

export interface UsageDebit {
  accountId: string;
  reference: string; // the request id
  costTokens: number;
  metadata: Record<string, unknown>;
}

/**
 * Debits accounts for served requests inside the caller's transaction: per account one row lock, one
 * ledger row per request (already-posted references are skipped, so replays are harmless) and one
 * balance update. Usage may take a balance below zero: it bills what was already served.
 *
 * The round trips do not grow with the batch or its accounts, and every list travels as one jsonb
 * parameter: the locks, `alongside` (the settler's usage rows) and the lookup of posted references
 * go out together, then one statement appends the ledger rows and sets the balances.
 */
export async function postUsageBatch(tx: Tx, debits: UsageDebit[], alongside?: SQL): Promise<number> {
  const charged = debits.filter((d) => assertTokens(d.costTokens, 'costTokens') > 0);
  if (charged.length === 0) {
    if (alongside) await tx.execute(alongside);
    return 0;
  }
  const accountIds = [...new Set(charged.map((d) => d.accountId))].sort();
  // Pipelined on the transaction's connection: Postgres runs them one after the other, in this order
  // (test/billing/write-settlements.test.ts fails if the lookup ever overtakes the locks). Nothing is
  // sent after them until all have answered, so after a failure no statement of ours trails the rollback.
  const [locked, , posted] = await Promise.all([
    // In id order, so two settlers never deadlock. NO KEY UPDATE is what the balance update needs; it
    // excludes every other balance change but not the KEY SHARE of foreign-key checks on accounts.
    tx.execute(sql`
      select id, balance from accounts
      where id = any(array(select jsonb_array_elements_text(${JSON.stringify(accountIds)}::jsonb)))
      order by id for no key update`),
    alongside && tx.execute(alongside),
    // After the locks, and a statement sees every commit made before it started: a concurrent
    // settlement of the same requests is visible here. `= any(array)` stays an index lookup.
    tx.execute(sql`
      select reference from ledger_entries
      where type = 'usage'
        and reference = any(array(select jsonb_array_elements_text(${JSON.stringify(charged.map((d) => d.reference))}::jsonb)))`),
  ]);
  const balances = new Map<string, number>();
  for (const row of resultRows<{ id: string; balance: string | number | bigint }>(locked)) balances.set(row.id, toTokens(row.balance, 'balance'));
  const missing = accountIds.find((id) => !balances.has(id));
  if (missing !== undefined) throw new LedgerError('account_not_found', `Account ${missing} does not exist.`);

  const seen = new Set(resultRows<{ reference: string }>(posted).map((p) => p.reference));
  const rows: Array<{ accountId: string; amount: number; balanceAfter: number; reference: string; metadata: Record<string, unknown> }> = [];
  for (const debit of charged) {
    if (seen.has(debit.reference)) continue;
    seen.add(debit.reference); // a batch may carry the same request twice after a redelivery
    const balanceAfter = assertTokens(balances.get(debit.accountId)! - debit.costTokens, 'balance');
    balances.set(debit.accountId, balanceAfter);
    rows.push({ accountId: debit.accountId, amount: -debit.costTokens, balanceAfter, reference: debit.reference, metadata: debit.metadata });
  }
  if (rows.length === 0) return 0;
  const changed = [...new Set(rows.map((r) => r.accountId))].map((id) => ({ id, balance: balances.get(id)! }));
  // Appended in array order, so each account's ids follow its running balance_after (reconcile checks
  // it by id); the balance updates ride in the same statement.
  await tx.execute(sql`
    with appended as (
      insert into ledger_entries (account_id, type, amount, balance_after, reference, metadata)
      select e->>'accountId', 'usage', (e->>'amount')::bigint, (e->>'balanceAfter')::bigint, e->>'reference', e->'metadata'
      from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) with ordinality as t(e, ord)
      order by ord
    )
    update accounts set balance = b.balance
    from jsonb_to_recordset(${JSON.stringify(changed)}::jsonb) as b(id text, balance bigint)
    where accounts.id = b.id`);
  return rows.length;
}
