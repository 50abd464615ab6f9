// Browser tests: Debian's chromium driven by playwright-core (headless). The browser is installed with
// apt when it is missing (the test machines run as root); screenshots go under test-results/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];
export const SCREENSHOT_DIR = path.resolve('test-results/screenshots');

const found = () => (process.env.CHROMIUM_PATH && existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : CANDIDATES.find((p) => existsSync(p)));

// Test files run in parallel: one of them installs, the others wait for its lock to go (apt holds
// its own locks and would fail a second install started meanwhile).
const INSTALL_LOCK = path.join(tmpdir(), 'tokengate-chromium-install.lock');

/** The chromium executable; installs Debian's package first when there is none (needs root). */
export async function ensureChromium(): Promise<string> {
  const existing = found();
  if (existing) return existing;
  if (process.getuid?.() !== 0) throw new Error('chromium is not installed and the tests are not running as root: run `apt-get install -y chromium` (or set CHROMIUM_PATH).');
  try {
    mkdirSync(INSTALL_LOCK);
  } catch {
    const deadline = Date.now() + 600_000;
    while (existsSync(INSTALL_LOCK) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1_000));
    return ensureChromium();
  }
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env });
  } finally {
    rmdirSync(INSTALL_LOCK);
  }
  const installed = found();
  if (!installed) throw new Error('apt-get installed chromium but no chromium executable was found');
  return installed;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: await ensureChromium(),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A fresh context (its own cookies) at desktop width. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: DESKTOP });
  return { context, page: await context.newPage() };
}

/** Form fields without an accessible name (no <label>, aria-label or aria-labelledby): should be none. */
export function unlabelledFields(page: Page): Promise<string[]> {
  return page.locator('input:not([type="hidden"]), select, textarea').evaluateAll((fields) =>
    fields.filter((f) => !f.closest('label') && !f.getAttribute('aria-label') && !f.getAttribute('aria-labelledby')).map((f) => f.outerHTML),
  );
}

/**
 * Full-page screenshots of the current page at desktop and phone width, for a reviewer to look at.
 * Every page shot is also checked for unlabelled form fields and for horizontal scrolling at phone
 * width (wide tables scroll inside their own box instead).
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  const unlabelled = await unlabelledFields(page);
  if (unlabelled.length > 0) throw new Error(`${name}: form fields without a label: ${unlabelled.join(' ')}`);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const original = page.viewportSize() ?? DESKTOP;
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  if (overflow > 0) throw new Error(`${name}: the page scrolls sideways by ${overflow} px at phone width`);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(original);
}

/** Signs in through the form; resolves on the page the sign-in leads to. */
export async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/dashboard/sign-in`);
  await page.getByLabel('API key').fill(key);
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith('/sign-in')), page.getByRole('button', { name: 'Sign in' }).click()]);
}
