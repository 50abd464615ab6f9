// The dashboard in a real browser, paying: buy a package through (fake) Stripe Checkout and see the
// credit once the webhook is in; auto-recharge settings with validation and the last failure; API keys
// created with limits (shown once) and revoked after confirming.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { launchBrowser, newPage, screenshots, signIn } from '../helpers/browser.js';
import { deliver, startFakeStripe, stripeEnv, type FakeStripe } from '../helpers/fake-stripe.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';
import { freePort } from '../helpers/ports.js';

let browser: Browser;
let fake: FakeStripe;
let gw: TestGateway;

beforeAll(async () => {
  browser = await launchBrowser();
  fake = await startFakeStripe();
  fake.hostedPages = true;
  // Checkout sends the browser back to PUBLIC_URL: the gateway's own address here.
  const port = await freePort();
  gw = await startTestGateway({ env: { ...stripeEnv(fake), PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` } });
}, 600_000);
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await fake?.stop();
});

const cardValue = (page: Page, id: string) => page.locator(`#${id} [data-value]`).textContent();

describe('dashboard: paying and keys', { timeout: 90_000 }, () => {
  it('buys a package through Checkout; the return page shows the credit when the webhook arrives', async () => {
    const account = await accountWithBalance(gw, 1_000, 'Buyer Ltd');
    const key = await keyFor(gw, account);
    const { context, page } = await newPage(browser);
    await signIn(page, gw.url, key);
    // 1,000 tokens is below the default low-balance threshold (500,000): the banner says so.
    await expect(page.locator('#low-balance').textContent()).resolves.toContain('Low balance');

    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Buy tokens' }).click();
    await expect(page.locator('.packages form').count()).resolves.toBe(3);
    await screenshots(page, 'buy');
    await page.getByRole('button', { name: 'Buy Starter' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/c/pay/'));
    await page.getByRole('button', { name: 'Pay' }).click();
    await page.waitForURL((url) => url.pathname === '/dashboard/buy/return');
    // Paid, but Stripe's webhook has not come yet: nothing credited, the page waits.
    await expect(page.locator('#waiting').isVisible()).resolves.toBe(true);
    await expect(cardValue(page, 'balance')).resolves.toBe('1,000');
    await screenshots(page, 'buy-return-waiting');

    expect(fake.paidSessions).toHaveLength(1);
    const delivered = await deliver(gw.url, fake.event('checkout.session.completed', fake.paidSessions[0]!));
    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'processed' } });
    // The page refreshes itself and finds the credit.
    await page.locator('#credited').waitFor({ timeout: 15_000 });
    await expect(page.locator('#credited').textContent()).resolves.toContain('5,000,000 tokens were credited');
    await expect(cardValue(page, 'balance')).resolves.toBe('5,001,000');
    await screenshots(page, 'buy-return-credited');
    await context.close();
  });

  it('validates auto-recharge settings, saves them, and shows the last failure', async () => {
    const account = await accountWithBalance(gw, 1_000, 'Recharger Inc');
    const key = await keyFor(gw, account);
    const { context, page } = await newPage(browser);
    await signIn(page, gw.url, key);
    // A card on file comes with a first Checkout purchase.
    await page.goto(`${gw.url}/dashboard/buy`);
    await page.getByRole('button', { name: 'Buy Starter' }).click();
    await page.getByRole('button', { name: 'Pay' }).click();
    await page.waitForURL((url) => url.pathname === '/dashboard/buy/return');
    await deliver(gw.url, fake.event('checkout.session.completed', fake.paidSessions.at(-1)!));

    await page.goto(`${gw.url}/dashboard/auto-recharge`);
    await page.getByLabel('Recharge automatically').check();
    await page.getByLabel('Recharge when the available balance is below (tokens)').fill('10000000');
    await page.getByLabel('Package to buy').selectOption('pkg_starter');
    await page.getByLabel('Monthly limit (tokens bought per calendar month)').fill('1000');
    await page.getByRole('button', { name: 'Save' }).click();
    // Below one package: refused, with the message next to the field, and nothing saved.
    await expect(page.locator('.field-error').textContent()).resolves.toContain('monthlyLimitTokens');
    const before = await gw.request('GET', '/account', { key });
    expect(before.body.autoRecharge.enabled).toBe(false);
    await screenshots(page, 'auto-recharge-invalid');

    await page.getByLabel('Monthly limit (tokens bought per calendar month)').fill('20000000');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/done=saved/);
    const saved = await gw.request('GET', '/account', { key });
    expect(saved.body.autoRecharge).toMatchObject({ enabled: true, threshold: 10_000_000, packageId: 'pkg_starter', monthlyLimitTokens: 20_000_000 });

    // The balance is below the threshold: the next settled request starts a recharge, and the card is declined.
    fake.intentOutcomes.push({ error: 'card_declined', declineCode: 'insufficient_funds' });
    const chat = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(200);
    await chat.arrayBuffer();
    while ((await gw.gateway.deps.settler.flushOnce()) > 0);
    await gw.gateway.deps.autoRecharge!.idle();
    await page.reload();
    await expect(page.locator('#last-failure').textContent()).resolves.toContain('insufficient_funds');
    await screenshots(page, 'auto-recharge');
    await context.close();
  });

  it('creates a key with limits, shows it once, and revokes a key after confirming', async () => {
    const account = await accountWithBalance(gw, 50_000, 'Keys Co');
    const key = await keyFor(gw, account);
    const { context, page } = await newPage(browser);
    await signIn(page, gw.url, key);
    await page.goto(`${gw.url}/dashboard/keys`);
    await page.getByLabel('Name').fill('batch job');
    await page.getByLabel('Requests per minute (optional)').fill('60');
    await page.getByLabel('Models, comma-separated (optional)').fill('mock, no-such-model');
    await page.getByRole('button', { name: 'Create key' }).click();
    // Refused by the same checks as POST /account/keys, the message next to the field, the values kept.
    await expect(page.locator('.field-error').first().textContent()).resolves.toContain("'no-such-model' does not exist");
    await expect(page.getByLabel('Name').inputValue()).resolves.toBe('batch job');

    await page.getByLabel('Models, comma-separated (optional)').fill('mock');
    await page.getByRole('button', { name: 'Create key' }).click();
    const created = (await page.locator('#new-key').textContent())!.trim();
    expect(created).toMatch(/^tg-/);
    await expect(page.getByRole('button', { name: 'Copy' }).isVisible()).resolves.toBe(true);
    await screenshots(page, 'key-created');
    const works = await gw.request('GET', '/account', { key: created });
    expect(works.status).toBe(200);
    // Shown once: the list has its prefix only.
    await page.goto(`${gw.url}/dashboard/keys`);
    expect(await page.content()).not.toContain(created);
    await expect(page.locator('tbody tr').filter({ hasText: 'batch job' }).textContent()).resolves.toContain('60 rpm');
    await screenshots(page, 'keys');

    await page.getByRole('link', { name: 'Revoke batch job' }).click();
    await screenshots(page, 'key-revoke-confirm');
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.waitForURL(/done=revoked/);
    await expect(page.locator('tbody tr').filter({ hasText: 'batch job' }).textContent()).resolves.toContain('revoked');
    const refused = await gw.request('GET', '/account', { key: created });
    expect(refused.status).toBe(401);
    await context.close();
  });
});
