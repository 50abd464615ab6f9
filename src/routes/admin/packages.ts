// GET/POST /admin/packages, PATCH /admin/packages/:id (SPEC 4). Packages are never deleted: a package
// leaves the shop with `active: false`. Once sold, a package's terms (tokens, price, currency) are
// frozen, so its row always describes what its buyers got; new terms are a new package (409 says so).
import { asc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../../db/errors.js';
import { packages } from '../../db/schema.js';
import { parseBody } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { conflict, notFound } from '../../http/errors.js';
import { newId } from '../../lib/ids.js';
import { soldPackageIds, type PackageRow } from '../../stripe/packages.js';
import { MAX_TOKEN_AMOUNT, storedText } from './schemas.js';

export const adminPackages = new Hono<AppEnv>();

// Stripe takes at most 8 digits in the smallest currency unit.
const MAX_PRICE_CENTS = 99_999_999;

const packageFields = {
  name: storedText(200),
  tokens: z.number().int().min(1).max(MAX_TOKEN_AMOUNT),
  priceCents: z.number().int().min(1).max(MAX_PRICE_CENTS),
  currency: z.string().regex(/^[a-z]{3}$/, 'must be a lowercase ISO 4217 code such as usd'),
  sortOrder: z.number().int().min(-1_000_000).max(1_000_000),
  active: z.boolean(),
};

export const createPackageSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, _ or -').optional(),
  ...packageFields,
  currency: packageFields.currency.default('usd'),
  sortOrder: packageFields.sortOrder.default(0),
  active: packageFields.active.default(true),
});

export const updatePackageSchema = z.strictObject(packageFields).partial();

const TERMS = ['tokens', 'priceCents', 'currency'] as const;

export function adminPackage(row: PackageRow, sold: boolean) {
  return {
    id: row.id,
    name: row.name,
    tokens: row.tokens,
    priceCents: row.priceCents,
    currency: row.currency,
    active: row.active,
    sortOrder: row.sortOrder,
    sold,
    createdAt: row.createdAt.toISOString(),
  };
}

adminPackages.get('/packages', async (c) => {
  const { db } = c.get('deps');
  const rows = await db.select().from(packages).orderBy(asc(packages.sortOrder), asc(packages.id));
  const sold = await soldPackageIds(db, rows.map((row) => row.id));
  return c.json({ data: rows.map((row) => adminPackage(row, sold.has(row.id))) });
});

adminPackages.post('/packages', async (c) => {
  const input = await parseBody(c, createPackageSchema);
  const id = input.id ?? newId('pkg', 9);
  try {
    const [row] = await c.get('deps').db.insert(packages).values({ ...input, id }).returning();
    return c.json(adminPackage(row!, false), 201);
  } catch (error) {
    if (postgresErrorCode(error) === UNIQUE_VIOLATION) throw conflict(`A package with id '${id}' already exists; packages are never deleted, so pick another id.`);
    throw error;
  }
});

adminPackages.patch('/packages/:id', async (c) => {
  const { db, settings } = c.get('deps');
  const input = await parseBody(c, updatePackageSchema);
  const id = c.req.param('id');
  const defaults = await settings.get();
  const result = await db.transaction(async (tx) => {
    // The row lock orders concurrent edits of one package; the sold check sees the latest terms.
    const [row] = await tx.select().from(packages).where(eq(packages.id, id)).for('update');
    if (!row) throw notFound(`No package with id '${id}'.`);
    const changedTerms = TERMS.filter((field) => input[field] !== undefined && input[field] !== row[field]);
    const sold = (await soldPackageIds(tx, [id])).has(id);
    if (changedTerms.length > 0 && sold) {
      throw conflict(
        `Package '${id}' has been sold, so its ${changedTerms.join(', ')} cannot change (its buyers' purchases name it). Create a new package with the new terms and deactivate this one ("active": false).`,
      );
    }
    if (input.active === false && row.active && defaults.autoRecharge.packageId === id) {
      throw conflict(`Package '${id}' is the default auto-recharge package; choose another in PATCH /admin/settings first.`);
    }
    if (Object.keys(input).length === 0) return { row, sold };
    const [updated] = await tx.update(packages).set(input).where(eq(packages.id, id)).returning();
    return { row: updated!, sold };
  });
  return c.json(adminPackage(result.row, result.sold));
});
