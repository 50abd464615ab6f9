// Idempotent seeding at start: default settings and packages are inserted when missing, never overwritten.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defaultSettings } from '../accounts/settings.js';
import type { Db } from './client.js';
import { packages, settings } from './schema.js';

const packagesFile = z.object({
  packages: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string().min(1),
      tokens: z.number().int().positive(),
      priceCents: z.number().int().positive(),
      currency: z.string().length(3).default('usd'),
      sortOrder: z.number().int().default(0),
    }),
  ),
});

const PACKAGES_FILE = new URL('../../config/packages.json', import.meta.url);

export async function seed(db: Db): Promise<void> {
  const defaults = Object.entries(defaultSettings()).map(([key, value]) => ({ key, value }));
  await db.insert(settings).values(defaults).onConflictDoNothing();
  const { packages: seeded } = packagesFile.parse(JSON.parse(readFileSync(PACKAGES_FILE, 'utf8')));
  if (seeded.length > 0) await db.insert(packages).values(seeded).onConflictDoNothing();
}
