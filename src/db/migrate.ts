// Applies the committed drizzle-kit migrations in drizzle/ at start, on both backends. All of it runs
// in one transaction under an advisory lock, so two instances starting at once apply each file once.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { Database } from './client.js';

const MIGRATIONS_DIR = new URL('../../drizzle/', import.meta.url);
export const MIGRATION_LOCK_ID = 727_100_001; // arbitrary, constant: "tokengate migrations"

interface JournalEntry {
  tag: string;
  when: number;
}

/** Applies pending migrations; returns the tags it applied. Uses drizzle-kit's bookkeeping table. */
export async function runMigrations(database: Database): Promise<string[]> {
  const journal = JSON.parse(readFileSync(new URL('meta/_journal.json', MIGRATIONS_DIR), 'utf8')) as { entries: JournalEntry[] };
  return database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    const [last] = await database.rows<{ created_at: string | number }>(
      sql`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`,
      tx,
    );
    const appliedUntil = last ? Number(last.created_at) : -1;
    const applied: string[] = [];
    for (const entry of journal.entries) {
      if (entry.when <= appliedUntil) continue;
      const text = readFileSync(new URL(`${entry.tag}.sql`, MIGRATIONS_DIR), 'utf8');
      for (const statement of text.split('--> statement-breakpoint')) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      const hash = createHash('sha256').update(text).digest('hex');
      await tx.execute(sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${hash}, ${entry.when})`);
      applied.push(entry.tag);
    }
    return applied;
  });
}
