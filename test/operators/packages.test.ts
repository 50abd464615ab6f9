// Admin packages: list (inactive too), create, edit, deactivate; a sold package keeps its terms (409),
// is never deleted, and its buyers' ledger rows keep what they paid and got. GET /admin/models: prices in force.
import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/billing/price-table.js';
import { buy, customer, ledgerOf, useStripeEnv } from '../stripe/support.js';

const env = useStripeEnv();

const admin = (method: string, path: string, body?: unknown) => env.gw.request(method, path, { key: env.gw.adminKey, body });

async function packageRow(id: string) {
  const [row] = await env.sql`select id, name, tokens::int, price_cents, currency, active, sort_order from packages where id = ${id}`;
  return row;
}

async function packageCount(): Promise<number> {
  const rows = await env.sql<{ n: number }[]>`select count(*)::int as n from packages`;
  return rows[0]!.n;
}

describe('admin packages', () => {
  it('creates a package (201), lists it with the seeded ones, refuses a duplicate id (409) and bad fields (400, nothing stored)', async () => {
    const created = await admin('POST', '/admin/packages', { id: 'pkg_team', name: 'Team', tokens: 50_000_000, priceCents: 4_500, sortOrder: 5 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ id: 'pkg_team', name: 'Team', tokens: 50_000_000, priceCents: 4_500, currency: 'usd', active: true, sold: false });

    const generated = await admin('POST', '/admin/packages', { name: 'No id', tokens: 1_000, priceCents: 100 });
    expect(generated.status).toBe(201);
    expect(generated.body.id).toMatch(/^pkg_/);

    expect((await admin('POST', '/admin/packages', { id: 'pkg_team', name: 'Again', tokens: 1, priceCents: 1 })).status).toBe(409);
    const cases: Array<[unknown, string]> = [
      [{ name: 'x', tokens: 0, priceCents: 100 }, 'tokens'],
      [{ name: 'x', tokens: 1.5, priceCents: 100 }, 'tokens'],
      [{ name: 'x', tokens: 10, priceCents: -1 }, 'priceCents'],
      [{ name: 'x', tokens: 10, priceCents: 100, currency: 'USD' }, 'currency'],
      [{ name: '', tokens: 10, priceCents: 100 }, 'name'],
      [{ name: 'x', tokens: 10, priceCents: 100, colour: 'red' }, 'colour'],
      [{ id: 'has space', name: 'x', tokens: 10, priceCents: 100 }, 'id'],
    ];
    const before = await packageCount();
    for (const [body, param] of cases) {
      const response = await admin('POST', '/admin/packages', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.param).toBe(param);
    }
    const after = await packageCount();
    expect(after).toBe(before);

    const list = await admin('GET', '/admin/packages');
    expect(list.status).toBe(200);
    expect(list.body.data.map((p: { id: string }) => p.id)).toEqual(expect.arrayContaining(['pkg_starter', 'pkg_standard', 'pkg_pro', 'pkg_team']));
  });

  it('edits an unsold package (price, tokens, name); deactivating hides it from buyers but not from admins', async () => {
    await admin('POST', '/admin/packages', { id: 'pkg_edit', name: 'Edit me', tokens: 1_000_000, priceCents: 100 });
    const edited = await admin('PATCH', '/admin/packages/pkg_edit', { name: 'Edited', tokens: 2_000_000, priceCents: 180 });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    expect(edited.body).toMatchObject({ name: 'Edited', tokens: 2_000_000, priceCents: 180, sold: false });

    expect((await env.gw.request('GET', '/packages')).body.data.map((p: { id: string }) => p.id)).toContain('pkg_edit');
    const off = await admin('PATCH', '/admin/packages/pkg_edit', { active: false });
    expect(off.body.active).toBe(false);
    expect((await env.gw.request('GET', '/packages')).body.data.map((p: { id: string }) => p.id)).not.toContain('pkg_edit');
    const listed = (await admin('GET', '/admin/packages')).body.data.find((p: { id: string }) => p.id === 'pkg_edit');
    expect(listed).toMatchObject({ active: false, name: 'Edited' });
    // A buyer cannot check out an inactive package.
    const { key } = await customer(env);
    expect((await env.gw.request('POST', '/account/checkout', { key, body: { packageId: 'pkg_edit' } })).status).toBe(400);

    expect((await admin('PATCH', '/admin/packages/pkg_nope', { name: 'x' })).status).toBe(404);
    const bad = await admin('PATCH', '/admin/packages/pkg_edit', { priceCents: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('priceCents');
    expect(await packageRow('pkg_edit')).toMatchObject({ price_cents: 180, tokens: 2_000_000 });
  });

  it('a sold package keeps its tokens, price and currency (409, nothing changed); name, order and active still change', async () => {
    await admin('POST', '/admin/packages', { id: 'pkg_sold', name: 'Sold', tokens: 3_000, priceCents: 300 });
    const { accountId, key } = await customer(env);
    await buy(env, key, 'pkg_sold');

    const listed = (await admin('GET', '/admin/packages')).body.data.find((p: { id: string }) => p.id === 'pkg_sold');
    expect(listed.sold).toBe(true);
    for (const change of [{ tokens: 4_000 }, { priceCents: 250 }, { currency: 'eur' }, { name: 'Renamed', tokens: 9 }]) {
      const refused = await admin('PATCH', '/admin/packages/pkg_sold', change);
      expect(refused.status, JSON.stringify(change)).toBe(409);
      expect(refused.body.error.message).toContain('Create a new package');
    }
    expect(await packageRow('pkg_sold')).toMatchObject({ name: 'Sold', tokens: 3_000, price_cents: 300, currency: 'usd' });

    // The same terms again are not a change; other fields are free.
    const renamed = await admin('PATCH', '/admin/packages/pkg_sold', { name: 'Sold (old)', tokens: 3_000, sortOrder: 9, active: false });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Sold (old)', sortOrder: 9, active: false, sold: true });

    // The purchase still says what was paid and credited, and there is no way to delete the package.
    const [purchase] = (await ledgerOf(env, accountId)).filter((row) => row.type === 'purchase');
    expect(purchase).toMatchObject({ amount: 3_000, metadata: { packageId: 'pkg_sold', amountCents: 300 } });
    expect((await admin('DELETE', '/admin/packages/pkg_sold')).status).toBe(404);
    expect(await packageRow('pkg_sold')).toBeDefined();
  });

  it('the default auto-recharge package cannot be deactivated until another default is chosen', async () => {
    const refused = await admin('PATCH', '/admin/packages/pkg_starter', { active: false });
    expect(refused.status).toBe(409);
    expect((await packageRow('pkg_starter'))?.active).toBe(true);
  });
});

describe('GET /admin/models', () => {
  it('lists the prices in force: chat, embedding and image models, per-model tool prices', async () => {
    const auditor = await customer(env).then(async ({ accountId }) => {
      const response = await admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'auditor', role: 'auditor' });
      return response.body.key as string;
    });
    const response = await env.gw.request('GET', '/admin/models', { key: auditor });
    expect(response.status).toBe(200);
    const table = loadPriceTable();
    const byId = new Map(response.body.data.map((m: { id: string }) => [m.id, m]));
    expect(byId.size).toBe(table.all().length);

    const mock = table.chat('mock')!;
    expect(byId.get('mock')).toMatchObject({ kind: 'chat', provider: 'mock', enabled: true, rates: { input: mock.input, cachedInput: mock.cachedInput, output: mock.output }, maxOutputTokens: mock.maxOutputTokens });
    expect(byId.get('o4-mini')).toMatchObject({ kind: 'chat', reasoning: true, toolPrices: { web_search_preview: 10_000 } });
    expect(byId.get('text-embedding-3-small')).toMatchObject({ kind: 'embedding', rates: { input: table.embedding('text-embedding-3-small')!.input } });
    expect(byId.get('dall-e-3')).toMatchObject({ kind: 'image', imagePrices: table.image('dall-e-3')!.imagePrices, defaultSize: '1024x1024' });
    expect(byId.get('gpt-image-1')).toMatchObject({ kind: 'image', tokenRates: table.image('gpt-image-1')!.tokenRates });
    expect(response.body.units.rates).toContain('per 1,000,000');
  });
});
