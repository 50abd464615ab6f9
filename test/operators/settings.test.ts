// GET/PATCH /admin/settings: validation names the field and changes nothing, the webhook secret is masked
// and never logged, and a change reaches a second instance of the same deployment at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';

const SECRET = 'alert-signing-secret-0123456789abcdef';
const logLines: string[] = [];
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  a = await startTestGateway({ onLogLine: (line) => logLines.push(line) });
  // A second instance on the same Postgres and Redis prefix: one deployment behind a load balancer.
  b = await startTestGateway({ database: a.database, redisPrefix: a.redisPrefix, env: { ADMIN_API_KEY: a.adminKey }, onLogLine: (line) => logLines.push(line) });
});

afterAll(async () => {
  await b?.stop({ keepDatabase: true });
  await a?.stop();
});

const patch = (gw: TestGateway, body: unknown) => gw.request('PATCH', '/admin/settings', { key: a.adminKey, body });
const get = (gw: TestGateway) => gw.request('GET', '/admin/settings', { key: a.adminKey });

describe('admin settings', () => {
  it('GET shows the defaults from config/settings.json', async () => {
    const response = await get(a);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      signupGrant: 0,
      lowBalanceThreshold: 500_000,
      reservationPolicy: 'clamp',
      autoRecharge: { enabled: false, threshold: 100_000, packageId: 'pkg_starter', monthlyLimitTokens: 50_000_000 },
      alertWebhook: { url: null, secret: null, allowPrivateAddresses: false },
    });
  });

  it('bad input is a 400 naming the field, and nothing changes', async () => {
    const before = (await get(a)).body;
    const cases: Array<[unknown, string]> = [
      [{ signupGrant: -1 }, 'signupGrant'],
      [{ lowBalanceThreshold: 1.5 }, 'lowBalanceThreshold'],
      [{ reservationPolicy: 'maybe' }, 'reservationPolicy'],
      [{ autoRecharge: { threshold: 'lots' } }, 'autoRecharge.threshold'],
      [{ autoRecharge: { packageId: 'pkg_missing' } }, 'autoRecharge.packageId'],
      [{ alertWebhook: { url: 'ftp://example.com/hook', secret: SECRET } }, 'alertWebhook.url'],
      [{ alertWebhook: { url: 'https://example.com/hook' } }, 'alertWebhook.secret'], // a url needs a secret
      [{ alertWebhook: { url: 'http://127.0.0.1:9/hook', secret: SECRET } }, 'alertWebhook.url'], // private address
      [{ alertWebhook: { secret: 'short' } }, 'alertWebhook.secret'],
      // A valid field next to a bad one: the valid one is not written either.
      [{ signupGrant: 5, reservationPolicy: 'nope' }, 'reservationPolicy'],
      [{ signupGrnt: 5 }, 'signupGrnt'],
    ];
    for (const [body, param] of cases) {
      const response = await patch(a, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error).toMatchObject({ param, type: 'invalid_request_error' });
    }
    expect((await patch(a, '{not json')).status).toBe(400);
    expect((await get(a)).body).toEqual(before);
    expect((await get(b)).body).toEqual(before);
  });

  it('a change applies on another instance at once, and at once to what it does (signupGrant)', async () => {
    expect((await get(b)).body.signupGrant).toBe(0); // b has the old value cached now
    const changed = await patch(a, { signupGrant: 1234, reservationPolicy: 'reject', autoRecharge: { threshold: 7 } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ signupGrant: 1234, reservationPolicy: 'reject', autoRecharge: { threshold: 7, packageId: 'pkg_starter', enabled: false } });
    // Within b's cache TTL (5 s): only the published invalidation can make b see it this soon.
    expect((await get(b)).body).toEqual(changed.body);
    const created = await b.request('POST', '/admin/accounts', { key: a.adminKey, body: { name: 'after the change' } });
    expect(created.body.balance).toBe(1234);
  });

  it('the webhook secret is masked on GET and in the PATCH answer, kept when the mask is sent back, and never logged', async () => {
    const set = await patch(a, { alertWebhook: { url: 'https://alerts.example.com/tokengate', secret: SECRET } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const masked = `****${SECRET.slice(-4)}`;
    expect(set.body.alertWebhook).toEqual({ url: 'https://alerts.example.com/tokengate', secret: masked, allowPrivateAddresses: false });
    expect((await get(b)).body.alertWebhook.secret).toBe(masked);
    const auditor = await keyFor(a, await accountWithBalance(a, 0), 'auditor');
    const read = await a.request('GET', '/admin/settings', { key: auditor });
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).not.toContain(SECRET);

    // A form that sends back what it was shown keeps the secret; a masked value that is not the current one is refused.
    const roundTrip = await patch(a, { alertWebhook: { ...read.body.alertWebhook, allowPrivateAddresses: true } });
    expect(roundTrip.status).toBe(200);
    const [stored] = await b.gateway.deps.settings.get().then((s) => [s.alertWebhook]);
    expect(stored).toMatchObject({ secret: SECRET, allowPrivateAddresses: true });
    const wrongMask = await patch(a, { alertWebhook: { secret: '****zzzz' } });
    expect(wrongMask.status).toBe(400);
    expect(wrongMask.body.error.param).toBe('alertWebhook.secret');

    // Turning the webhook off clears url and secret.
    const off = await patch(a, { alertWebhook: { url: null, secret: null } });
    expect(off.body.alertWebhook).toMatchObject({ url: null, secret: null });

    expect(logLines.some((line) => line.includes('"settings changed"'))).toBe(true);
    expect(logLines.filter((line) => line.includes(SECRET))).toEqual([]);
  });

  it('auditors read settings but cannot change them; user keys cannot read them', async () => {
    const account = await accountWithBalance(a, 0);
    const auditor = await keyFor(a, account, 'auditor');
    const user = await keyFor(a, account, 'user');
    expect((await a.request('PATCH', '/admin/settings', { key: auditor, body: { signupGrant: 1 } })).status).toBe(403);
    expect((await a.request('GET', '/admin/settings', { key: user })).status).toBe(403);
    expect((await get(a)).body.signupGrant).toBe(1234);
  });
});
