// What every fault test checks after its fault: each request a client saw answered is in the ledger
// exactly once, no gateway process exited, balance == sum(ledger), and reconcile is ok.
import postgres from 'postgres';
import { expect } from 'vitest';
import { generateApiKey } from '../../src/accounts/api-keys.js';
import { eventually, spawnGateway, type Answer, type GatewayProcess } from '../helpers/gateway-process.js';

export interface Pair {
  gateways: GatewayProcess[];
  adminKey: string;
  /** A new account with this opening balance, and a user key for it. */
  account(balance: number): Promise<FaultAccount>;
  stop(): Promise<void>;
}

export interface FaultAccount {
  accountId: string;
  key: string;
  balance: number;
}

/** `count` gateway processes on one Postgres and Redis. */
export async function startGateways(env: Record<string, string>, count = 2): Promise<Pair> {
  const adminKey = generateApiKey();
  const gateways = await Promise.all(Array.from({ length: count }, () => spawnGateway({ ...env, ADMIN_API_KEY: adminKey })));
  const first = gateways[0]!;
  const admin = (path: string, body: unknown) =>
    fetch(`${first.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }),
    );
  const account = async (balance: number): Promise<FaultAccount> => {
    const created = await admin('/admin/accounts', { name: 'faults', grant: balance });
    expect(created.status).toBe(201);
    const accountId = String(created.body.id);
    const key = await admin(`/admin/accounts/${accountId}/keys`, { name: 'load' });
    expect(key.status).toBe(201);
    return { accountId, key: String(key.body.key), balance };
  };
  return { gateways, adminKey, account, stop: async () => void (await Promise.all(gateways.map((g) => g.stop()))) };
}

/** The checks after a fault, against the test's own view of Postgres (`databaseUrl`, not through a proxy). */
export async function expectEverythingBilledOnce(pair: Pair, account: FaultAccount, databaseUrl: string, answers: Answer[]): Promise<void> {
  const served = answers.filter((a) => a.status === 200);
  expect(served.length).toBeGreaterThan(0);
  const ids = served.map((a) => a.requestId!);
  expect(new Set(ids).size).toBe(ids.length);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const billed = async () => {
      const rows = await sql<{ reference: string; amount: string }[]>`
        select reference, amount from ledger_entries where account_id = ${account.accountId} and type = 'usage'`;
      return new Map(rows.map((r) => [r.reference, -Number(r.amount)]));
    };
    await eventually('every served request is in the ledger', () => hasAll(billed, ids), 30_000);
    const ledger = await billed();
    for (const answer of served) expect(ledger.get(answer.requestId!), `billed as answered: ${answer.requestId}`).toBe(answer.cost);
    // Nothing billed that no client saw answered, beyond requests whose answer was lost in the fault
    // itself (a 5xx or a cut connection after the provider served them): those are billed, never twice.
    const [{ balance, sum }] = await sql<[{ balance: string; sum: string }]>`
      select a.balance, (select coalesce(sum(amount), 0) from ledger_entries l where l.account_id = a.id) as sum
      from accounts a where a.id = ${account.accountId}`;
    expect(Number(balance)).toBe(Number(sum));
    expect(Number(balance)).toBeLessThanOrEqual(account.balance - served.reduce((s, a) => s + a.cost, 0));
  } finally {
    await sql.end();
  }
  for (const gateway of pair.gateways) {
    if (!gateway.alive()) {
      // Say how it died: the exit code or signal and its last lines (a crash's stack is there).
      const { exitCode, signalCode } = gateway.child;
      process.stderr.write(`--- ${gateway.url} exited (code ${exitCode}, signal ${signalCode})\n${gateway.logs.filter((l) => !l.includes('"request"')).slice(-40).join('\n')}\n`);
    }
    expect(gateway.alive(), `gateway ${gateway.url} is still running`).toBe(true);
    await eventually('reconcile is ok', async () => {
      const response = await fetch(`${gateway.url}/admin/reconcile`, { headers: { authorization: `Bearer ${pair.adminKey}` } });
      const body = (await response.json()) as { ok: boolean; queue: { depth: number } };
      return response.status === 200 && body.ok && body.queue.depth === 0;
    }).catch((error: unknown) => {
      for (const g of pair.gateways) process.stderr.write(`--- ${g.url}\n${g.logs.filter((l) => !l.includes('"request"')).join('\n')}\n`);
      throw error;
    });
  }
}

async function hasAll(billed: () => Promise<Map<string, number>>, ids: string[]): Promise<boolean> {
  const ledger = await billed();
  return ids.every((id) => ledger.has(id));
}
