// The dashboard in a real browser, as an account owner: sign in, see requests made through the API in
// the usage chart and table, the ledger, sign out. Screenshots of each page land in test-results/.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { launchBrowser, newPage, screenshots } from '../helpers/browser.js';
import { useTestGateway } from '../helpers/harness.js';

const env = useTestGateway();
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
}, 600_000);
afterAll(async () => {
  await browser?.close();
});

async function chat(key: string, operation: string, outputTokens: number): Promise<number> {
  const response = await fetch(`${env.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-tokengate-operation': operation, 'x-mock-output-tokens': String(outputTokens) },
    body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hello there' }] }),
  });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  return Number(response.headers.get('x-tokengate-cost'));
}

const settle = async () => {
  while ((await env.gw.gateway.deps.settler.flushOnce()) > 0);
};

describe('dashboard: an account owner', { timeout: 90_000 }, () => {
  it('signs in, sees API requests in the usage chart and table, the ledger, and signs out', async () => {
    const account = await accountWithBalance(env.gw, 1_234_567, 'Browser Co');
    const key = await keyFor(env.gw, account);
    const { context, page } = await newPage(browser);

    // Not signed in: the dashboard sends you to the sign-in form (and / leads to the dashboard).
    await page.goto(`${env.gw.url}/`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in');
    await screenshots(page, 'sign-in');

    // With the keyboard only: the key field has focus, Enter submits; Tab then starts at the skip link.
    await page.keyboard.type(key);
    await Promise.all([page.waitForURL((url) => url.pathname === '/dashboard'), page.keyboard.press('Enter')]);
    await page.keyboard.press('Tab');
    await expect(page.locator(':focus').textContent()).resolves.toBe('Skip to content');
    await page.keyboard.press('Tab');
    await expect(page.locator(':focus').textContent()).resolves.toBe('tokengate');
    await expect(page.locator('#balance [data-value]').textContent()).resolves.toBe('1,234,567');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'tg_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    // The key itself is nowhere in the browser: not in a cookie, not in the page.
    expect(cookies.some((c) => c.value.includes(key))).toBe(false);
    expect(await page.content()).not.toContain(key);
    await screenshots(page, 'overview');

    const costs = [await chat(key, 'summarize', 40), await chat(key, 'summarize', 60), await chat(key, 'translate', 25)];
    await settle();

    await page.goto(`${env.gw.url}/dashboard/usage`);
    const rows = page.locator('table').filter({ has: page.getByRole('columnheader', { name: 'Request id' }) }).locator('tbody tr');
    await expect(rows.count()).resolves.toBe(3);
    await expect(rows.first().textContent()).resolves.toContain('translate');
    // The chart has today's bar for the mock model, as many tokens as the three requests.
    const bars = page.locator('[data-chart] rect[data-series="mock"]');
    await expect(bars.count()).resolves.toBe(1);
    const tokensToday = Number(await bars.first().getAttribute('data-tokens'));
    const { rows: sums } = await env.sql`select sum(input_tokens + output_tokens)::int as t, sum(cost)::int as c from usage_events where account_id = ${account.id}`.then((r) => ({ rows: r }));
    expect(tokensToday).toBe(sums[0]!.t);
    expect(sums[0]!.c).toBe(costs.reduce((a, b) => a + b, 0));
    await screenshots(page, 'usage-by-model');

    // Split by operation: two series, and the model filter keeps the table to what it names.
    await page.getByRole('link', { name: 'By operation' }).click();
    await expect(page.locator('[data-chart] rect').evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-series')))].sort())).resolves.toEqual(['summarize', 'translate']);
    await screenshots(page, 'usage-by-operation');
    await page.getByRole('textbox', { name: 'Operation' }).fill('summarize');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect(rows.count()).resolves.toBe(2);

    await page.goto(`${env.gw.url}/dashboard/transactions`);
    const ledger = page.locator('tbody tr');
    await expect(ledger.count()).resolves.toBe(4); // the opening grant and three usage rows
    await expect(ledger.last().textContent()).resolves.toContain('+1,234,567');
    await page.getByLabel('Type').selectOption('grant');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(ledger.count()).resolves.toBe(1);
    await screenshots(page, 'transactions');

    // Sign-out ends the session on the server: the old cookie no longer opens a page.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/sign-in/);
    const replay = await fetch(`${env.gw.url}/dashboard`, { headers: { cookie: `tg_session=${session!.value}` }, redirect: 'manual' });
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toContain('/dashboard/sign-in');
    await context.close();
  });
});
