// Typed access to the settings table, with the defaults from config/settings.json seeded at start.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { settings } from '../db/schema.js';

export const autoRechargeSchema = z.object({
  enabled: z.boolean(),
  threshold: z.number().int().nonnegative(),
  packageId: z.string().min(1),
  monthlyLimitTokens: z.number().int().nonnegative(),
});

export const settingsSchema = z.object({
  signupGrant: z.number().int().nonnegative(),
  lowBalanceThreshold: z.number().int().nonnegative(),
  reservationPolicy: z.enum(['clamp', 'reject']),
  autoRecharge: autoRechargeSchema,
});

export type Settings = z.infer<typeof settingsSchema>;

const DEFAULTS_FILE = new URL('../../config/settings.json', import.meta.url);

export function defaultSettings(): Settings {
  return settingsSchema.parse(JSON.parse(readFileSync(DEFAULTS_FILE, 'utf8')).settings);
}

/**
 * Settings change rarely and are read on hot paths (reservation policy), so each instance keeps them
 * for a few seconds; a write through this instance refreshes at once.
 */
export class SettingsStore {
  private cached?: { value: Settings; at: number };

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 5_000,
    private readonly now = () => Date.now(),
  ) {}

  async get(): Promise<Settings> {
    if (this.cached && this.now() - this.cached.at < this.ttlMs) return this.cached.value;
    let rows: { key: string; value: unknown }[];
    try {
      rows = await this.db.select().from(settings);
    } catch (error) {
      // Postgres is down: requests keep being served on the last settings this instance read.
      if (this.cached) return this.cached.value;
      throw error;
    }
    const merged = { ...defaultSettings(), ...Object.fromEntries(rows.map((r) => [r.key, r.value])) };
    const value = settingsSchema.parse(merged);
    this.cached = { value, at: this.now() };
    return value;
  }

  async update(patch: Partial<Settings>): Promise<Settings> {
    const next = settingsSchema.parse({ ...(await this.get()), ...patch });
    for (const key of Object.keys(patch) as (keyof Settings)[]) {
      await this.db
        .insert(settings)
        .values({ key, value: next[key] })
        .onConflictDoUpdate({ target: settings.key, set: { value: next[key], updatedAt: new Date() } });
    }
    this.cached = { value: next, at: this.now() };
    return next;
  }
}
