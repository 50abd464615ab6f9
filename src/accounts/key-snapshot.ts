// The shared snapshot of a key as last read from Postgres (see shared-cache.ts): what an instance
// answers from when Postgres is unreachable and it has not cached the key itself.
import type { ApiKeyRow } from './api-keys.js';

export interface KeyRecord {
  key: ApiKeyRow;
  accountStatus: string;
}

// Named with their hash tags, so each snapshot lives in its key's or its account's Cluster slot.
export const keySnapshotName = (keyHash: string) => `{key:${keyHash}}:auth`;
export const accountStatusSnapshotName = (accountId: string) => `{acct:${accountId}}:status`;

const dateFields = ['expiresAt', 'revokedAt', 'lastUsedAt', 'createdAt'] as const;

export function serializeKeyRecord(record: KeyRecord): string {
  return JSON.stringify(record);
}

/** Null for anything that is not a snapshot this code wrote (a snapshot is a cache, never trusted blindly). */
export function parseKeyRecord(text: string | null): KeyRecord | null {
  if (!text) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { key, accountStatus } = value as { key?: Record<string, unknown>; accountStatus?: unknown };
  if (!key || typeof key.id !== 'string' || typeof key.accountId !== 'string' || typeof accountStatus !== 'string') return null;
  const revived: Record<string, unknown> = { ...key };
  for (const field of dateFields) {
    const raw = key[field];
    revived[field] = typeof raw === 'string' ? new Date(raw) : null;
  }
  if (!(revived.createdAt instanceof Date)) return null;
  return { key: revived as ApiKeyRow, accountStatus };
}
