// Lua for RedisHoldStore. Inline strings rather than .lua files so src/ (tsx) and dist/ (tsc) behave
// the same with nothing to copy. Every script declares all its keys in KEYS; apart from the settlement
// stream, all keys of one call belong to one account and share its {acct:ID} hash tag (one slot).
//
// Integers: amounts arrive as decimal strings and are handed to INCRBY/DECRBY/SET as strings where
// possible, so Redis does the 64-bit math; where Lua must compute, int() formats without exponents.

const prelude = `
local function int(n) return string.format('%d', n) end

-- Ends holds whose expiry (zset score, ms) is at or before now, so abandoned holds release money.
local function dropExpired(holdsKey, amountsKey, heldKey, now)
  local expired = redis.call('ZRANGEBYSCORE', holdsKey, '-inf', now, 'LIMIT', 0, 500)
  if #expired == 0 then return end
  local amounts = redis.call('HMGET', amountsKey, unpack(expired))
  local total = 0
  for _, amount in ipairs(amounts) do total = total + (tonumber(amount) or 0) end
  redis.call('ZREM', holdsKey, unpack(expired))
  redis.call('HDEL', amountsKey, unpack(expired))
  redis.call('DECRBY', heldKey, int(total))
end
`;

/**
 * KEYS: bal, holds, hamt, held. ARGV: holdId, amount, minimum, nowMs, expiresAtMs.
 * Returns {2} when the mirror is missing, {0, available} when refused, {1, held, availableAfter}.
 * A holdId that is already open returns the existing hold, so a retried reserve holds once.
 */
export const reserveScript = `${prelude}
dropExpired(KEYS[2], KEYS[3], KEYS[4], ARGV[4])
local balance = redis.call('GET', KEYS[1])
if not balance then return {2} end
local available = tonumber(balance) - tonumber(redis.call('GET', KEYS[4]) or '0')
local existing = redis.call('HGET', KEYS[3], ARGV[1])
if existing then return {1, tonumber(existing), available} end
local hold = math.min(tonumber(ARGV[2]), math.max(available, 0))
if hold < tonumber(ARGV[3]) then return {0, available} end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], int(hold))
redis.call('INCRBY', KEYS[4], int(hold))
return {1, hold, available - hold}
`;

/**
 * KEYS: bal, gen, pending, cseq, lseq. ARGV: genSeenBeforeLoading, postgresBalance.
 * Sets bal = postgres - pending unless gen moved since the caller read it (a grant or a settlement
 * landed in Postgres meanwhile, so its read may be stale) or another loader got there first.
 * Records in lseq how many captures the mirror has seen (see ackScript).
 */
export const loadScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DECRBY', KEYS[1], redis.call('GET', KEYS[3]) or '0')
redis.call('SET', KEYS[5], redis.call('GET', KEYS[4]) or '0')
return 1
`;

/**
 * KEYS: bal, holds, hamt, held, pending, cseq, capturedMarker, settleStream.
 * ARGV: holdId, cost, nowMs, markerTtlMs, accountId, settlementJson.
 * Charges even when the hold expired or is unknown: the provider served the request. The marker
 * makes a second capture of the same hold a no-op. Returns {1, balance} or {0} when the mirror is
 * missing (the charge still counts through pending; the caller reloads to learn the balance).
 *
 * The stream key is in another slot than the account keys: on Redis Cluster this script needs a
 * per-slot settlement stream (known follow-up). On a single Redis it is fine.
 */
export const captureScript = `${prelude}
dropExpired(KEYS[2], KEYS[3], KEYS[4], ARGV[3])
if redis.call('EXISTS', KEYS[7]) == 0 then
  local amount = redis.call('HGET', KEYS[3], ARGV[1])
  if amount then
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('HDEL', KEYS[3], ARGV[1])
    redis.call('DECRBY', KEYS[4], amount)
  end
  redis.call('INCRBY', KEYS[5], ARGV[2])
  local seq = redis.call('INCR', KEYS[6])
  redis.call('XADD', KEYS[8], '*', 'acct', ARGV[5], 'cost', ARGV[2], 'seq', seq, 's', ARGV[6])
  redis.call('SET', KEYS[7], '1', 'PX', ARGV[4])
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECRBY', KEYS[1], ARGV[2]) end
end
local balance = redis.call('GET', KEYS[1])
if not balance then return {0} end
return {1, tonumber(balance)}
`;

/** KEYS: holds, hamt, held. ARGV: holdId, nowMs, expiresAtMs. Returns 1 if the hold is open (and now expires later), else 0. */
export const extendScript = `${prelude}
dropExpired(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
`;

/** KEYS: holds, hamt, held. ARGV: holdId, nowMs. Unknown or expired holds are a no-op. */
export const voidScript = `${prelude}
dropExpired(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
local amount = redis.call('HGET', KEYS[2], ARGV[1])
if not amount then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], amount)
return 1
`;

/** KEYS: bal, holds, hamt, held. ARGV: nowMs. Returns {0} when the mirror is missing, else {1, bal, held}. */
export const viewScript = `${prelude}
dropExpired(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
local balance = redis.call('GET', KEYS[1])
if not balance then return {0} end
return {1, tonumber(balance), tonumber(redis.call('GET', KEYS[4]) or '0')}
`;

/** KEYS: gen, bal. Moving gen refuses loads that read Postgres before this call. */
export const invalidateScript = `
redis.call('INCR', KEYS[1])
redis.call('DEL', KEYS[2])
return 1
`;

/**
 * KEYS: settleStream, pending, gen, bal, lseq (one account). ARGV: group, then pairs entryId, fallbackCost
 * for that account's settled entries. Returns how many entries this call acknowledged.
 * Only the call whose XACK acknowledges an entry decrements pending by its cost (read from the entry;
 * the fallback only if the entry is gone), so a repeated ack, or an id listed twice, is harmless.
 * INCR gen (once) refuses a load that read Postgres before these settlements landed there. A mirror
 * loaded after one of the captures (lseq >= its seq) may have read Postgres after the settlement was
 * written but before this ack, subtracting the cost twice (in Postgres and as pending): drop it.
 *
 * Like capture, this touches the stream's slot and the account's slot: single Redis only for now.
 */
export const ackScript = `
local acked = 0
local stale = false
local loadedAt = tonumber(redis.call('GET', KEYS[5]) or '0')
for i = 2, #ARGV - 1, 2 do
  local id = ARGV[i]
  if redis.call('XACK', KEYS[1], ARGV[1], id) == 1 then
    acked = acked + 1
    local cost = ARGV[i + 1]
    local seq = nil
    local entry = redis.call('XRANGE', KEYS[1], id, id)[1]
    if entry then
      local fields = entry[2]
      for j = 1, #fields, 2 do
        if fields[j] == 'cost' then cost = fields[j + 1] end
        if fields[j] == 'seq' then seq = tonumber(fields[j + 1]) end
      end
    end
    redis.call('DECRBY', KEYS[2], cost)
    if seq == nil or loadedAt >= seq then stale = true end
  end
  redis.call('XDEL', KEYS[1], id)
end
if acked == 0 then return 0 end
redis.call('INCR', KEYS[3])
if stale then redis.call('DEL', KEYS[4]) end
return acked
`;

/**
 * KEYS: settleStream. ARGV: group, consumer, max, claimIdleMs.
 * One round trip for what a settler claims: takes over entries other consumers left idle that long
 * (they join this consumer's pending ones), then returns this consumer's pending entries, oldest
 * first, topped up with new ones to max. Replies with a flat list of {id, fields} (fields nil when
 * the entry was deleted from the stream while pending).
 */
export const claimScript = `
local max = tonumber(ARGV[3])
redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], '0-0', 'COUNT', max, 'JUSTID')
local entries = {}
local function take(reply)
  if not reply then return end
  for _, stream in ipairs(reply) do
    for _, entry in ipairs(stream[2]) do entries[#entries + 1] = entry end
  end
end
take(redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', max, 'STREAMS', KEYS[1], '0'))
if #entries < max then
  take(redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', max - #entries, 'STREAMS', KEYS[1], '>'))
end
return entries
`;
