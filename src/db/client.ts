// One database handle over two backends: postgres.js when DATABASE_URL is set, embedded PGlite when not.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { SQL } from 'drizzle-orm';
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Runs raw SQL and returns its rows, the same shape on both backends. */
  rows<T extends Record<string, unknown>>(query: SQL, executor?: Db | Tx): Promise<T[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.poolSize ?? 10) : openPglite(options.dataDir);
}

function openPostgres(url: string, poolSize: number): Database {
  const client = postgres(url, { max: poolSize, onnotice: () => {}, connect_timeout: 5, idle_timeout: 30 });
  const db = drizzlePostgres(client, { schema });
  return {
    db,
    kind: 'postgres',
    rows: async (query, executor = db) => resultRows(await executor.execute(query)),
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
  const dir = path.resolve(dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const client = new PGlite(dir);
  await client.waitReady;
  // The query builder API is the same on both drivers; only raw results differ, which rows() hides.
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    rows: async (query, executor = db) => resultRows(await executor.execute(query)),
    ping: async () => {
      await client.query('select 1');
    },
    close: () => client.close(),
  };
}


/** The rows of a raw `execute` result: postgres.js returns the row array itself, PGlite `{ rows }`. */
export function resultRows<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
