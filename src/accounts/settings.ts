// Typed access to the settings table, with the defaults from config/settings.json seeded at start.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isPrivateHost } from '../alerts/address.js';
import type { Db } from '../db/client.js';
import { DatabaseUnavailableError, type DatabaseReadGuard } from '../db/read-guard.js';
import { settings } from '../db/schema.js';
import type { Logger } from '../log.js';
import type { SharedCache } from './shared-cache.js';

export const autoRechargeSchema = z.object({
  enabled: z.boolean(),
  threshold: z.number().int().nonnegative(),
  packageId: z.string().min(1),
  monthlyLimitTokens: z.number().int().nonnegative(),
});

const alertWebhookShape = z.object({
  url: z.url({ protocol: /^https?$/, message: 'an http:// or https:// URL' }).max(2000).nullable(),
  secret: z.string().min(16, 'at least 16 characters').max(200).nullable(),
  allowPrivateAddresses: z.boolean(),
});

/**
 * Where low-balance events are POSTed (src/alerts/), and the secret they are signed with. Checked when
 * set; the address a name resolves to is checked again at each delivery.
 */
export const alertWebhookSchema = alertWebhookShape
  .refine((hook) => hook.url === null || hook.secret !== null, { message: 'is needed to sign events when a url is set', path: ['secret'] })
  .refine((hook) => hook.url === null || hook.allowPrivateAddresses || !isPrivateHost(new URL(hook.url).hostname), {
    message: 'must not point to a loopback or private address unless allowPrivateAddresses is true',
    path: ['url'],
  });

export const settingsSchema = z.object({
  signupGrant: z.number().int().nonnegative(),
  lowBalanceThreshold: z.number().int().nonnegative(),
  reservationPolicy: z.enum(['clamp', 'reject']),
  autoRecharge: autoRechargeSchema,
  alertWebhook: alertWebhookSchema,
});

export type Settings = z.infer<typeof settingsSchema>;

// What is read back is only checked for shape: a stored URL refused by today's rules (rules change,
// operators edit the table) must not stop every request; delivery refuses it instead.
const storedSettingsSchema = settingsSchema.extend({ alertWebhook: alertWebhookShape });

const DEFAULTS_FILE = new URL('../../config/settings.json', import.meta.url);
const SNAPSHOT = 'settings';

export function defaultSettings(): Settings {
  return settingsSchema.parse(JSON.parse(readFileSync(DEFAULTS_FILE, 'utf8')).settings);
}

export interface SettingsStoreOptions {
  db: Db;
  guard: DatabaseReadGuard;
  shared: SharedCache;
  log: Logger;
  ttlMs?: number;
  now?: () => number;
}

/**
 * Settings change rarely and are read on hot paths (reservation policy), so each instance keeps them
 * for a few seconds; a write is published to every instance at once. When Postgres errors or is slow
 * they are answered from the snapshot every instance shares in Redis, else from this instance's last read.
 */
export class SettingsStore {
  private cached?: { value: Settings; at: number };
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SettingsStoreOptions) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.now = options.now ?? Date.now;
    options.shared.onInvalidate((message) => {
      if (message.kind === 'settings' || message.kind === 'all') this.cached = undefined;
    });
  }

  async get(): Promise<Settings> {
    const cached = this.cached;
    if (cached && this.now() - cached.at < this.ttlMs) return cached.value;
    let rows: { key: string; value: unknown }[];
    try {
      rows = await this.options.guard.read(() => this.options.db.select().from(settings));
    } catch (error) {
      return this.fallback(cached?.value, error);
    }
    return this.fromRows(rows);
  }

  private fromRows(rows: { key: string; value: unknown }[]): Settings {
    const value = storedSettingsSchema.parse({ ...defaultSettings(), ...Object.fromEntries(rows.map((r) => [r.key, r.value])) });
    this.cached = { value, at: this.now() };
    this.options.shared.putSnapshot(SNAPSHOT, JSON.stringify(value)).catch((error: unknown) => this.options.log.debug({ err: error }, 'could not share the settings snapshot'));
    return value;
  }

  async update(patch: Partial<Settings>): Promise<Settings> {
    const next = settingsSchema.parse({ ...(await this.get()), ...patch });
    // One transaction: a failure part-way leaves every setting as it was.
    await this.options.db.transaction(async (tx) => {
      for (const key of Object.keys(patch) as (keyof Settings)[]) {
        await tx
          .insert(settings)
          .values({ key, value: next[key] })
          .onConflictDoUpdate({ target: settings.key, set: { value: next[key], updatedAt: new Date() } });
      }
    });
    await this.options.shared.putSnapshot(SNAPSHOT, JSON.stringify(next)).catch((error: unknown) => this.options.log.warn({ err: error }, 'could not share the settings snapshot'));
    await this.options.shared.publish({ kind: 'settings' });
    this.cached = { value: next, at: this.now() };
    return next;
  }

  private async fallback(last: Settings | undefined, cause: unknown): Promise<Settings> {
    let value = last;
    try {
      const shared = storedSettingsSchema.safeParse(JSON.parse((await this.options.shared.getSnapshot(SNAPSHOT)) ?? 'null'));
      if (shared.success) value = shared.data;
    } catch (error) {
      this.options.log.warn({ err: error }, 'shared settings snapshot unavailable');
    }
    if (value) {
      this.cached = { value, at: this.now() };
      return value;
    }
    // Nothing known (a fresh instance): rather wait on Postgres (bounded) than fail without asking.
    if (!(cause instanceof DatabaseUnavailableError && cause.skipped)) throw cause;
    return this.fromRows(await this.options.guard.read(() => this.options.db.select().from(settings), { force: true }));
  }
}
