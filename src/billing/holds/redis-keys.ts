// Where RedisHoldStore keeps things. Every key carries the hash tag of one shard, `{sN}`: a shard's
// settlement stream, expiry index and data-loss marker, and every key of the accounts hashed to it,
// share one Redis Cluster slot, so each Lua script touches one slot (SPEC 7).
//
//   {prefix}{sN}:settle              settlement stream of the shard (consumer group `settlers`)
//   {prefix}{sN}:expiry              zset "accountId\nholdId" -> expiry ms, for the sweeper
//   {prefix}{sN}:epoch               marker written at start; gone means Redis lost this shard's data
//   {prefix}{sN}:acct:ID:bal         mirror balance = Postgres balance - pending
//   {prefix}{sN}:acct:ID:holds       zset holdId -> expiry (ms)
//   {prefix}{sN}:acct:ID:hamt        hash holdId -> held amount
//   {prefix}{sN}:acct:ID:held        sum of open holds
//   {prefix}{sN}:acct:ID:prog        hash holdId -> last progress settlement (JSON); :pcost its cost
//   {prefix}{sN}:acct:ID:pending     captured, not yet settled into Postgres
//   {prefix}{sN}:acct:ID:gen         bumped whenever Postgres may have moved under the mirror
//   {prefix}{sN}:acct:ID:cseq        captures so far; :lseq is its value when the mirror was loaded
//   {prefix}{sN}:acct:ID:cap:HOLD    marker that HOLD was captured (1 day), so a retry charges once

/** Fixed: changing it moves every account to other keys (drain the queues first). */
export const SHARDS = 16;

export function shardOf(accountId: string): number {
  // FNV-1a, 32 bits: stable across processes and versions, which Node's own hashes are not promised to be.
  let hash = 0x811c9dc5;
  for (let i = 0; i < accountId.length; i++) {
    hash ^= accountId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % SHARDS;
}

export function shardBase(prefix: string, shard: number): string {
  return `${prefix}{s${shard}}`;
}

export function accountBase(prefix: string, accountId: string): string {
  return `${shardBase(prefix, shardOf(accountId))}:acct:${accountId}`;
}

export function allShards(): number[] {
  return Array.from({ length: SHARDS }, (_, shard) => shard);
}
