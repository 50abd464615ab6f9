// The settler against real Postgres and Redis: batches land once, and one unwritable entry does not
// hold back the rest of the queue.
import { describe, expect, it } from 'vitest';
import { accountWithBalance } from '../helpers/factories.js';
import { settlementFor } from '../helpers/settlements.js';
import { useTestGateway } from '../helpers/harness.js';

const t = useTestGateway();


describe('settler', () => {
  it('writes a batch once and keeps an unwritable entry queued without blocking the others', async () => {
    const { holds, settler } = t.gw.gateway.deps;
    const account = await accountWithBalance(t.gw, 1_000);
    const good = [settlementFor(account.id, 10), settlementFor(account.id, 20), settlementFor(account.id, 30)];
    const poison = settlementFor('acct_does_not_exist', 5); // violates the foreign key forever
    for (const s of [good[0]!, poison, good[1]!, good[2]!]) await holds.capture(s.requestId, s).catch(() => {});

    await settler.flushOnce().catch(() => {});
    await settler.flushOnce().catch(() => {});

    const rows = await t.sql<{ reference: string; amount: string; balance_after: string }[]>`
      select reference, amount, balance_after from ledger_entries where account_id = ${account.id} and type = 'usage' order by id`;
    expect(rows.map((r) => r.reference).sort()).toEqual(good.map((s) => s.requestId).sort());
    expect(rows.reduce((sum, r) => sum + Number(r.amount), 0)).toBe(-60);
    const [{ balance }] = await t.sql<[{ balance: string }]>`select balance from accounts where id = ${account.id}`;
    expect(Number(balance)).toBe(940);
    const [{ n }] = await t.sql<[{ n: number }]>`select count(*)::int as n from usage_events where id = ${poison.requestId}`;
    expect(n).toBe(0);
    // The poison entry is still queued (not lost), the good ones are gone from the queue.
    const queued = await holds.claimSettlements(100);
    expect(queued.map((q) => q.settlement.requestId)).toEqual([poison.requestId]);
    expect((await holds.view(account.id)).balanceTokens).toBe(940);
  });

  it('settles one batch over several accounts and acks each account once, leaving the mirrors right', async () => {
    const { holds, settler } = t.gw.gateway.deps;
    // Entries other tests left queued (an unwritable one) would send this batch down the one-by-one path.
    await holds.ackSettlements(await holds.claimSettlements(1_000));
    const [a, b] = [await accountWithBalance(t.gw, 1_000), await accountWithBalance(t.gw, 500)];
    await holds.view(a.id); // mirrors loaded before the captures, so the ack may keep them
    await holds.view(b.id);
    const batch = [settlementFor(a.id, 5), settlementFor(b.id, 7), settlementFor(a.id, 11), settlementFor(b.id, 13), settlementFor(a.id, 0)];
    for (const s of batch) await holds.capture(s.requestId, s);

    await settler.flushOnce();
    await settler.flushOnce(); // in case the first joined a background run that started earlier

    const rows = await t.sql<{ account_id: string; amount: string; balance_after: string }[]>`
      select account_id, amount, balance_after from ledger_entries where account_id in (${a.id}, ${b.id}) and type = 'usage' order by id`;
    expect(rows.map((r) => [r.account_id, Number(r.amount), Number(r.balance_after)])).toEqual([
      [a.id, -5, 995],
      [b.id, -7, 493],
      [a.id, -11, 984],
      [b.id, -13, 480],
    ]);
    expect(await holds.claimSettlements(100)).toEqual([]);
    expect((await holds.view(a.id)).balanceTokens).toBe(984);
    expect((await holds.view(b.id)).balanceTokens).toBe(480);
    // Rebuilt from Postgres, the mirrors agree: nothing is left pending twice or not at all.
    await holds.invalidate(a.id);
    await holds.invalidate(b.id);
    expect((await holds.view(a.id)).balanceTokens).toBe(984);
    expect((await holds.view(b.id)).balanceTokens).toBe(480);
  });
});
