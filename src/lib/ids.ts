// Prefixed, URL-safe random ids (acct_..., key_..., req_...) so an id tells what it names.
// Ids are not secrets (API keys use their own randomBytes call), so they are cut from a pooled
// buffer: one randomBytes call per ~300 ids instead of one per request.
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = randomBytes(POOL_BYTES);
let offset = 0;

function nextBytes(count: number): Buffer {
  if (offset + count > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, count));
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + count);
  offset += count;
  return bytes;
}

export const newId = (prefix: string, bytes = 12) => `${prefix}_${nextBytes(bytes).toString('base64url')}`;
