// Token packages as buyers see them: only active ones, in the admin's order.
import { and, asc, eq } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.js';
import { packages } from '../db/schema.js';

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
