// The dashboard's admin pages in a real browser: find an account, grant tokens through the
// confirmation step (a double click grants once), the user sees the new balance; an auditor sees no
// write controls and a forged post from an auditor session is refused; suspending ends sessions.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { launchBrowser, newPage, screenshots, signIn } from '../helpers/browser.js';
import { useTestGateway } from '../helpers/harness.js';

const env = useTestGateway();
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
}, 600_000);
afterAll(async () => {
  await browser?.close();
});

const csrfOf = (page: Page) => page.locator('form[action="/dashboard/sign-out"] input[name="_csrf"]').inputValue();

async function grantsOf(accountId: string): Promise<{ amount: number; reference: string }[]> {
  return env.sql`select amount::int, reference from ledger_entries where account_id = ${accountId} and type = 'grant' and reference like 'admin:%'` as unknown as Promise<{ amount: number; reference: string }[]>;
}

describe('dashboard: admin and auditor', { timeout: 90_000 }, () => {
  it('an admin finds the account and grants once on a double click; the user sees the new balance', async () => {
    const account = await accountWithBalance(env.gw, 10_000, 'Grantee GmbH');
    const userKey = await keyFor(env.gw, account);
    await fetch(`${env.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userKey}`, 'content-type': 'application/json', 'x-tokengate-operation': 'classify' },
      body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] }),
    }).then((r) => r.arrayBuffer());
    while ((await env.gw.gateway.deps.settler.flushOnce()) > 0);

    const { context, page } = await newPage(browser);
    await signIn(page, env.gw.url, env.gw.adminKey);
    await page.goto(`${env.gw.url}/dashboard/admin`);
    await expect(page.locator('#used [data-value]').textContent()).resolves.not.toBe('0');
    await screenshots(page, 'admin-system');

    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Accounts' }).click();
    await page.getByLabel('Search').fill('Grantee');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.locator('tbody tr').count()).resolves.toBe(1);
    await screenshots(page, 'admin-accounts');
    await page.getByRole('link', { name: 'Grantee GmbH' }).click();
    await screenshots(page, 'admin-account');

    // A bad amount is refused next to its field; nothing is posted.
    await page.getByLabel('Amount (tokens; negative deducts)').fill('0');
    await page.getByLabel('Reason').fill('support credit');
    await page.getByRole('button', { name: 'Review' }).click();
    await expect(page.locator('.field-error').first().textContent()).resolves.toContain('must not be zero');

    await page.getByLabel('Amount (tokens; negative deducts)').fill('25000');
    await page.getByLabel('Reason').fill('support credit');
    await page.getByRole('button', { name: 'Review' }).click();
    await expect(page.locator('#confirm-text').textContent()).resolves.toContain('Grant 25,000 tokens to Grantee GmbH');
    await screenshots(page, 'admin-grant-confirm');
    const form = page.locator('form[action$="/grant"]');
    const fields = Object.fromEntries(
      await form.locator('input[type="hidden"]').evaluateAll((inputs) => inputs.map((i) => [i.getAttribute('name'), i.getAttribute('value')])),
    ) as Record<string, string>;
    await page.getByRole('button', { name: 'Confirm grant' }).dblclick();
    await page.waitForURL(/done=(granted|replayed)/);
    // The form sent again (as a second click that got through would): the same idempotency key, no second grant.
    const again = await page.request.post(`${env.gw.url}/dashboard/admin/accounts/${account.id}/grant`, { form: fields, maxRedirects: 0 });
    expect(again.status()).toBe(303);
    expect(again.headers().location).toContain('done=replayed');
    expect(await grantsOf(account.id)).toEqual([{ amount: 25_000, reference: `admin:${fields.idempotencyKey}` }]);
    await expect(page.locator('#balance [data-value]').textContent()).resolves.toMatch(/^34,9\d\d$/);
    await screenshots(page, 'admin-account-granted');

    const user = await newPage(browser);
    await signIn(user.page, env.gw.url, userKey);
    const balance = (await env.gw.request('GET', '/account', { key: userKey })).body.balance as number;
    expect(balance).toBeGreaterThan(30_000);
    await expect(user.page.locator('#balance [data-value]').textContent()).resolves.toBe(balance.toLocaleString('en-US'));

    // Suspending the account ends its dashboard session on the next page.
    await page.getByRole('button', { name: 'Suspend account' }).click();
    await page.waitForURL(/done=suspended/);
    await user.page.goto(`${env.gw.url}/dashboard/usage`);
    expect(new URL(user.page.url()).searchParams.get('reason')).toBe('ended');
    await user.context.close();
    await context.close();
  });

  it('an auditor sees no write controls, and a forged post from an auditor session is refused', async () => {
    const account = await accountWithBalance(env.gw, 5_000, 'Audited AG');
    const auditorKey = await keyFor(env.gw, { id: 'acct_operator' }, 'auditor');
    const { context, page } = await newPage(browser);
    await signIn(page, env.gw.url, auditorKey);
    expect(new URL(page.url()).pathname).toBe('/dashboard/admin');
    // The account pages are not in an auditor's navigation, and not reachable either.
    await expect(page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Buy tokens' }).count()).resolves.toBe(0);
    expect((await page.goto(`${env.gw.url}/dashboard/keys`))!.status()).toBe(403);

    await page.goto(`${env.gw.url}/dashboard/admin/accounts/${account.id}`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Audited AG');
    // The only form that posts is sign-out.
    await expect(page.locator('form[method="post"]').evaluateAll((forms) => forms.map((f) => f.getAttribute('action')))).resolves.toEqual(['/dashboard/sign-out']);
    await screenshots(page, 'auditor-account');

    const csrf = await csrfOf(page);
    for (const [path, form] of [
      [`/dashboard/admin/accounts/${account.id}/grant`, { _csrf: csrf, amount: '1000000', reason: 'forged', idempotencyKey: 'forged-1' }],
      [`/dashboard/admin/accounts/${account.id}/grant/confirm`, { _csrf: csrf, amount: '1000000', reason: 'forged' }],
      [`/dashboard/admin/accounts/${account.id}/status`, { _csrf: csrf, status: 'suspended' }],
    ] as const) {
      const forged = await page.request.post(`${env.gw.url}${path}`, { form: { ...form }, maxRedirects: 0 });
      expect(forged.status()).toBe(403);
    }
    expect(await grantsOf(account.id)).toEqual([]);
    expect((await env.gw.request('GET', `/admin/accounts/${account.id}`, { key: env.gw.adminKey })).body.status).toBe('active');
    await context.close();
  });

  it('refuses posts without the session\'s CSRF token or from another origin', async () => {
    const account = await accountWithBalance(env.gw, 5_000, 'Csrf Target');
    const { context, page } = await newPage(browser);
    await signIn(page, env.gw.url, env.gw.adminKey);
    const url = `${env.gw.url}/dashboard/admin/accounts/${account.id}/grant`;
    const form = { amount: '1000', reason: 'x', idempotencyKey: 'csrf-1' };
    expect((await page.request.post(url, { form, maxRedirects: 0 })).status()).toBe(403);
    expect((await page.request.post(url, { form: { ...form, _csrf: 'not-the-token' }, maxRedirects: 0 })).status()).toBe(403);
    const csrf = await csrfOf(page);
    const crossSite = await page.request.post(url, { form: { ...form, _csrf: csrf }, headers: { origin: 'https://evil.example' }, maxRedirects: 0 });
    expect(crossSite.status()).toBe(403);
    expect(await grantsOf(account.id)).toEqual([]);
    await context.close();
  });

  it('edits settings and packages with validation messages; auditors see them read-only', async () => {
    const { context, page } = await newPage(browser);
    await signIn(page, env.gw.url, env.gw.adminKey);
    await page.goto(`${env.gw.url}/dashboard/admin/settings`);
    await page.getByLabel('URL (empty: no webhook)').fill('https://hooks.example.com/tokengate');
    await page.getByRole('button', { name: 'Save settings' }).click();
    // A webhook url needs a signing secret: refused next to the secret field, nothing saved.
    await expect(page.locator('.field-error').first().textContent()).resolves.toContain('is needed to sign events');
    const unchanged = await env.sql`select value from settings where key = 'alertWebhook'`;
    expect((unchanged[0]?.value as { url?: string | null } | undefined)?.url ?? null).toBeNull();
    await page.getByLabel('Signing secret (at least 16 characters)').fill('a-secret-of-32-characters-000000');
    await page.getByLabel('Low-balance threshold (tokens; accounts may set their own)').fill('750000');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.waitForURL(/done=saved/);
    const stored = await env.sql`select key, value from settings where key in ('lowBalanceThreshold', 'alertWebhook') order by key`;
    expect(stored.map((r) => [r.key, r.value])).toEqual([
      ['alertWebhook', { url: 'https://hooks.example.com/tokengate', secret: 'a-secret-of-32-characters-000000', allowPrivateAddresses: false }],
      ['lowBalanceThreshold', 750_000],
    ]);
    // The secret is never sent back to the browser.
    expect(await page.content()).not.toContain('a-secret-of-32-characters-000000');
    await screenshots(page, 'admin-settings');

    await page.goto(`${env.gw.url}/dashboard/admin/packages`);
    const create = page.locator('form[action="/dashboard/admin/packages"]');
    await create.getByLabel('Id').fill('pkg_team');
    await create.getByLabel('Name').fill('Team');
    await create.getByLabel('Tokens').fill('50000000');
    await create.getByLabel('Price (smallest currency unit, e.g. cents)').fill('0');
    await create.getByRole('button', { name: 'Create package' }).click();
    // The same schema as POST /admin/packages: a price of 0 is refused next to its field.
    await expect(page.locator('form[action="/dashboard/admin/packages"] .field-error').textContent()).resolves.toMatch(/>=\s*1/);
    await page.locator('form[action="/dashboard/admin/packages"]').getByLabel('Price (smallest currency unit, e.g. cents)').fill('4500');
    await page.locator('form[action="/dashboard/admin/packages"]').getByRole('button', { name: 'Create package' }).click();
    await page.waitForURL(/done=saved/);
    const listed = await env.gw.request('GET', '/packages');
    expect(listed.body.data).toContainEqual({ id: 'pkg_team', name: 'Team', tokens: 50_000_000, priceCents: 4500, currency: 'usd' });
    // Taken off sale from its card.
    const card = page.locator('form[action="/dashboard/admin/packages/pkg_team"]');
    await card.getByLabel('On sale').uncheck();
    await card.getByRole('button', { name: 'Save pkg_team' }).click();
    await page.waitForURL(/done=saved/);
    expect(((await env.gw.request('GET', '/packages')).body.data as { id: string }[]).map((p) => p.id)).not.toContain('pkg_team');
    await screenshots(page, 'admin-packages');
    await context.close();

    const auditor = await newPage(browser);
    await signIn(auditor.page, env.gw.url, await keyFor(env.gw, { id: 'acct_operator' }, 'auditor'));
    for (const path of ['/dashboard/admin/settings', '/dashboard/admin/packages']) {
      await auditor.page.goto(`${env.gw.url}${path}`);
      await expect(auditor.page.locator('form[method="post"]').evaluateAll((forms) => forms.map((f) => f.getAttribute('action')))).resolves.toEqual(['/dashboard/sign-out']);
      await expect(auditor.page.getByRole('button', { name: /Save|Create/ }).count()).resolves.toBe(0);
    }
    const forged = await auditor.page.request.post(`${env.gw.url}/dashboard/admin/packages`, {
      form: { _csrf: await csrfOf(auditor.page), id: 'pkg_forged', name: 'Forged', tokens: '1', priceCents: '50', currency: 'usd', active: 'on' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    await auditor.context.close();
  });
});
