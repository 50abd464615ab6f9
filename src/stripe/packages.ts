// Token packages: what buyers see (only active ones, in the admin's order) and whether one was sold.
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.js';
import { autoRechargeAttempts, ledgerEntries, packages } from '../db/schema.js';

export type PackageRow = typeof packages.$inferSelect;

export async function activePackages(db: Db): Promise<PackageRow[]> {
  return db.select().from(packages).where(eq(packages.active, true)).orderBy(asc(packages.sortOrder), asc(packages.id));
}

export async function findActivePackage(db: Db | Tx, id: string): Promise<PackageRow | undefined> {
  const [row] = await db.select().from(packages).where(and(eq(packages.id, id), eq(packages.active, true)));
  return row;
}

/** What GET /packages shows. Prices are in the currency's smallest unit, as Stripe counts them. */
export function publicPackage(row: PackageRow) {
  return { id: row.id, name: row.name, tokens: row.tokens, priceCents: row.priceCents, currency: row.currency };
}

/**
 * Whether the package was ever sold or a recharge of it was ever started: a Checkout purchase or an
 * auto-recharge credited for it (the ledger names the package), or an auto-recharge attempt for it.
 * Such a package keeps its terms (tokens, price, currency) for good.
 */
export async function soldPackageIds(db: Db | Tx, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const credited = await db
    .selectDistinct({ id: sql<string>`${ledgerEntries.metadata}->>'packageId'` })
    .from(ledgerEntries)
    .where(and(inArray(ledgerEntries.type, ['purchase', 'auto_recharge']), inArray(sql`${ledgerEntries.metadata}->>'packageId'`, ids)));
  const attempted = await db.selectDistinct({ id: autoRechargeAttempts.packageId }).from(autoRechargeAttempts).where(inArray(autoRechargeAttempts.packageId, ids));
  return new Set([...credited, ...attempted].map((row) => row.id));
}
