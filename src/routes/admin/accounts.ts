// Admin routes for accounts and grants (SPEC section 4, "Admin"); their keys are in keys.ts.
import { and, asc, eq, gt, gte, ilike, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import { Hono } from 'hono';
import { accountView, createAccount, findAccount } from '../../accounts/accounts.js';
import { publicKey } from '../../accounts/api-keys.js';
import { LedgerError, post } from '../../billing/ledger.js';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../../db/errors.js';
import { accounts, apiKeys, ledgerEntries } from '../../db/schema.js';
import { parseBody, parseQuery } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { ApiError, conflict, insufficientBalance, notFound } from '../../http/errors.js';
import { publicLedgerEntry } from '../account/views.js';
import { createAccountSchema, grantSchema, listAccountsSchema, updateAccountSchema } from './schemas.js';

export const adminAccounts = new Hono<AppEnv>();

adminAccounts.post('/accounts', async (c) => {
  const { db, settings, holds } = c.get('deps');
  const input = await parseBody(c, createAccountSchema);
  const current = await settings.get();
  const row = await createAccount(db, { name: input.name, email: input.email, openingGrantTokens: input.grant ?? current.signupGrant });
  return c.json(await accountView(row, holds, current.lowBalanceThreshold), 201);
});

adminAccounts.get('/accounts', async (c) => {
  const { db, settings } = c.get('deps');
  const query = parseQuery(c, listAccountsSchema);
  const { lowBalanceThreshold } = await settings.get();
  const filters: (SQL | undefined)[] = [
    query.q ? or(ilike(accounts.name, contains(query.q)), ilike(accounts.email, contains(query.q)), eq(accounts.id, query.q)) : undefined,
    query.status ? eq(accounts.status, query.status) : undefined,
    query.minBalance !== undefined ? gte(accounts.balance, query.minBalance) : undefined,
    query.maxBalance !== undefined ? lte(accounts.balance, query.maxBalance) : undefined,
    query.lowBalance === 'true' ? sql`${accounts.balance} < coalesce(${accounts.lowBalanceThreshold}, ${lowBalanceThreshold})` : undefined,
    query.cursor ? gt(accounts.id, query.cursor) : undefined,
  ];
  const rows = await db.select().from(accounts).where(and(...filters)).orderBy(asc(accounts.id)).limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return c.json({
    data: page.map((row) => ({ id: row.id, name: row.name, email: row.email, status: row.status, balance: row.balance, createdAt: row.createdAt.toISOString() })),
    nextCursor: rows.length > query.limit ? page.at(-1)!.id : null,
  });
});

/** An ILIKE pattern matching `text` literally anywhere (its own % and _ are not wildcards). */
function contains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

adminAccounts.get('/accounts/:id', async (c) => {
  const { db, settings, holds } = c.get('deps');
  const row = await requireAccount(c.get('deps').db, c.req.param('id'));
  const keys = await db.select().from(apiKeys).where(eq(apiKeys.accountId, row.id)).orderBy(asc(apiKeys.createdAt));
  const { lowBalanceThreshold } = await settings.get();
  return c.json({ ...(await accountView(row, holds, lowBalanceThreshold)), keys: keys.map(publicKey) });
});

adminAccounts.patch('/accounts/:id', async (c) => {
  const { db, settings, holds, authenticator } = c.get('deps');
  const input = await parseBody(c, updateAccountSchema);
  const row = await requireAccount(db, c.req.param('id'));
  const [updated] = await db.update(accounts).set({ status: input.status }).where(eq(accounts.id, row.id)).returning();
  await authenticator.accountStatusChanged(row.id, updated!.status); // on every instance, at once
  const { lowBalanceThreshold } = await settings.get();
  return c.json(await accountView(updated!, holds, lowBalanceThreshold));
});

adminAccounts.post('/accounts/:id/grants', async (c) => {
  const { db, holds } = c.get('deps');
  const input = await parseBody(c, grantSchema);
  const row = await requireAccount(db, c.req.param('id'));
  const type = input.amount > 0 ? 'grant' : 'deduction';
  const reference = `admin:${input.idempotencyKey}`;
  try {
    const { entry, replayed } = await post(db, {
      accountId: row.id,
      type,
      amount: input.amount,
      reference,
      metadata: { reason: input.reason, by: c.get('auth').key.id },
      allowNegative: input.allowNegative,
    });
    if (replayed && entry.amount !== input.amount) {
      throw conflict(`idempotencyKey '${input.idempotencyKey}' was already used for a grant of ${entry.amount} tokens.`);
    }
    // Also on a replay: if the first attempt committed but failed to reset the mirror, this repairs it.
    await holds.invalidate(row.id);
    return c.json({ ...publicLedgerEntry(entry), replayed }, replayed ? 200 : 201);
  } catch (error) {
    // The database holds one grant or deduction per reference, whatever its sign (a unique index):
    // the loser of a race, or a retry with the other sign, lands here. Replays of the same sign were
    // answered by post() above.
    if (postgresErrorCode(error) === UNIQUE_VIOLATION) throw await reusedKey(db, reference, input.idempotencyKey);
    throw mapLedgerError(error);
  }
});

async function reusedKey(db: AppEnv['Variables']['deps']['db'], reference: string, idempotencyKey: string): Promise<ApiError> {
  const [existing] = await db
    .select({ type: ledgerEntries.type, amount: ledgerEntries.amount })
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.reference, reference), inArray(ledgerEntries.type, ['grant', 'deduction'])));
  const first = existing ? ` for a ${existing.type} of ${existing.amount} tokens` : '';
  return conflict(`idempotencyKey '${idempotencyKey}' was already used${first}.`);
}

export function mapLedgerError(error: unknown): unknown {
  if (!(error instanceof LedgerError)) return error;
  if (error.code === 'insufficient_balance') {
    return insufficientBalance(`${error.message} Pass "allowNegative": true to allow a negative balance.`);
  }
  if (error.code === 'account_not_found') return notFound(error.message);
  return new ApiError(409, 'conflict', error.message, 'conflict_error');
}

export async function requireAccount(db: AppEnv['Variables']['deps']['db'], id: string) {
  const row = await findAccount(db, id);
  if (!row) throw notFound(`No account with id '${id}'.`);
  return row;
}
