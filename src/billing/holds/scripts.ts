// Lua for RedisHoldStore. Inline strings rather than .lua files so src/ (tsx) and dist/ (tsc) behave
// the same with nothing to copy.
//
// Redis Cluster: every key lives under one shard's hash tag, `{prefix}{sN}` (see redis-keys.ts): the
// shard's settlement stream and expiry index, and all keys of the accounts that hash to that shard. So
// each script touches one slot. Scripts get the shard base (S) and, where one account is involved, the
// account base (A = S..':acct:'..id) as KEYS, and derive the key names from them; the derived keys carry
// the same hash tag, so they live in the same slot (Cluster serves them from the node the script runs on).
//
// Integers: amounts arrive as decimal strings and are handed to INCRBY/DECRBY/SET as strings where
// possible, so Redis does the 64-bit math; where Lua must compute, int() formats without exponents.

const prelude = `
local function int(n) return string.format('%d', n) end
local function member(acct, holdId) return acct .. '\\n' .. holdId end

-- Ends an open hold without charge: its amount leaves held, its progress and index entry go.
local function endHold(A, S, acct, holdId)
  redis.call('ZREM', S .. ':expiry', member(acct, holdId))
  redis.call('HDEL', A .. ':prog', holdId)
  redis.call('HDEL', A .. ':pcost', holdId)
  local amount = redis.call('HGET', A .. ':hamt', holdId)
  if not amount then return false end
  redis.call('ZREM', A .. ':holds', holdId)
  redis.call('HDEL', A .. ':hamt', holdId)
  redis.call('DECRBY', A .. ':held', amount)
  return true
end

-- Charges cost for holdId once (a marker remembers it for markerTtl ms): ends the hold, counts the
-- cost as pending, queues the settlement on the shard's stream, and lowers the mirror if it is loaded.
local function charge(A, S, acct, holdId, cost, json, markerTtl)
  local marker = A .. ':cap:' .. holdId
  if redis.call('EXISTS', marker) == 1 then return false end
  endHold(A, S, acct, holdId)
  redis.call('INCRBY', A .. ':pending', cost)
  local seq = redis.call('INCR', A .. ':cseq')
  redis.call('XADD', S .. ':settle', '*', 'acct', acct, 'cost', cost, 'seq', seq, 's', json)
  redis.call('SET', marker, '1', 'PX', markerTtl)
  if redis.call('EXISTS', A .. ':bal') == 1 then redis.call('DECRBY', A .. ':bal', cost) end
  return true
end

-- An expired hold is settled by the progress its request last recorded (it delivered that much and
-- then its instance died), or released when it recorded none. Returns 'settled' or 'voided'.
local function expire(A, S, acct, holdId, markerTtl)
  local progress = redis.call('HGET', A .. ':prog', holdId)
  if progress then
    charge(A, S, acct, holdId, redis.call('HGET', A .. ':pcost', holdId) or '0', progress, markerTtl)
    return 'settled'
  end
  endHold(A, S, acct, holdId)
  return 'voided'
end

-- Ends the account's holds whose expiry (ms) is at or before now, before any step reads its balance.
local function dropExpired(A, S, acct, now, markerTtl)
  local expired = redis.call('ZRANGEBYSCORE', A .. ':holds', '-inf', now, 'LIMIT', 0, 200)
  for _, holdId in ipairs(expired) do expire(A, S, acct, holdId, markerTtl) end
end
`;

/**
 * KEYS: A, S. ARGV: accountId, holdId, amount, minimum, nowMs, expiresAtMs, markerTtlMs.
 * Returns {2} when the mirror is missing, {0, available} when refused, {1, held, availableAfter}.
 * A holdId that is already open returns the existing hold, so a retried reserve holds once.
 */
export const reserveScript = `${prelude}
local A, S, acct, holdId = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
dropExpired(A, S, acct, ARGV[5], ARGV[7])
local balance = redis.call('GET', A .. ':bal')
if not balance then return {2} end
local available = tonumber(balance) - tonumber(redis.call('GET', A .. ':held') or '0')
local existing = redis.call('HGET', A .. ':hamt', holdId)
if existing then return {1, tonumber(existing), available} end
local hold = math.min(tonumber(ARGV[3]), math.max(available, 0))
if hold < tonumber(ARGV[4]) then return {0, available} end
redis.call('ZADD', A .. ':holds', ARGV[6], holdId)
redis.call('ZADD', S .. ':expiry', ARGV[6], member(acct, holdId))
redis.call('HSET', A .. ':hamt', holdId, int(hold))
redis.call('INCRBY', A .. ':held', int(hold))
return {1, hold, available - hold}
`;

/**
 * KEYS: A. ARGV: genSeenBeforeLoading, postgresBalance.
 * Sets bal = postgres - pending unless gen moved since the caller read it (a grant or a settlement
 * landed in Postgres meanwhile, so its read may be stale) or another loader got there first.
 * Records in lseq how many captures the mirror has seen (see ackScript).
 */
export const loadScript = `
local A = KEYS[1]
if redis.call('EXISTS', A .. ':bal') == 1 then return 1 end
if (redis.call('GET', A .. ':gen') or '0') ~= ARGV[1] then return 0 end
redis.call('SET', A .. ':bal', ARGV[2])
redis.call('DECRBY', A .. ':bal', redis.call('GET', A .. ':pending') or '0')
redis.call('SET', A .. ':lseq', redis.call('GET', A .. ':cseq') or '0')
return 1
`;

/**
 * KEYS: A, S. ARGV: accountId, holdId, cost, nowMs, markerTtlMs, settlementJson.
 * Charges even when the hold expired or is unknown: the provider served the request. The marker
 * makes a second capture of the same hold a no-op (also after the sweeper settled it by progress).
 * Returns {1, balance} or {0} when the mirror is missing (the charge still counts through pending;
 * the caller reloads to learn the balance).
 */
export const captureScript = `${prelude}
local A, S, acct, holdId = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
dropExpired(A, S, acct, ARGV[4], ARGV[5])
charge(A, S, acct, holdId, ARGV[3], ARGV[6], ARGV[5])
local balance = redis.call('GET', A .. ':bal')
if not balance then return {0} end
return {1, tonumber(balance)}
`;

/**
 * KEYS: A, S. ARGV: accountId, holdId, nowMs, expiresAtMs, markerTtlMs, [progressCost, progressJson].
 * Returns 1 if the hold is open (it now expires later, and carries the progress if given), else 0.
 */
export const extendScript = `${prelude}
local A, S, acct, holdId = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
dropExpired(A, S, acct, ARGV[3], ARGV[5])
if redis.call('HEXISTS', A .. ':hamt', holdId) == 0 then return 0 end
redis.call('ZADD', A .. ':holds', 'XX', ARGV[4], holdId)
redis.call('ZADD', S .. ':expiry', ARGV[4], member(acct, holdId))
if ARGV[7] then
  redis.call('HSET', A .. ':prog', holdId, ARGV[7])
  redis.call('HSET', A .. ':pcost', holdId, ARGV[6])
end
return 1
`;

/** KEYS: A, S. ARGV: accountId, holdId, nowMs, markerTtlMs. Unknown or expired holds are a no-op. */
export const voidScript = `${prelude}
local A, S, acct = KEYS[1], KEYS[2], ARGV[1]
dropExpired(A, S, acct, ARGV[3], ARGV[4])
return endHold(A, S, acct, ARGV[2]) and 1 or 0
`;

/** KEYS: A, S. ARGV: accountId, nowMs, markerTtlMs. Returns {0} when the mirror is missing, else {1, bal, held}. */
export const viewScript = `${prelude}
local A, S = KEYS[1], KEYS[2]
dropExpired(A, S, ARGV[1], ARGV[2], ARGV[3])
local balance = redis.call('GET', A .. ':bal')
if not balance then return {0} end
return {1, tonumber(balance), tonumber(redis.call('GET', A .. ':held') or '0')}
`;

/**
 * KEYS: A. ARGV: nowMs. Read-only, for reconcile: {hasMirror, bal, held, pending, openHolds, expiredHolds}.
 */
export const inspectScript = `
local A = KEYS[1]
local balance = redis.call('GET', A .. ':bal')
local open = redis.call('ZCARD', A .. ':holds')
local expired = redis.call('ZCOUNT', A .. ':holds', '-inf', ARGV[1])
return {balance and 1 or 0, tonumber(balance or '0'), tonumber(redis.call('GET', A .. ':held') or '0'),
  tonumber(redis.call('GET', A .. ':pending') or '0'), open, expired}
`;

/** KEYS: A. Moving gen refuses loads that read Postgres before this call. */
export const invalidateScript = `
redis.call('INCR', KEYS[1] .. ':gen')
redis.call('DEL', KEYS[1] .. ':bal')
return 1
`;

/**
 * KEYS: A, S (one account). ARGV: group, then pairs entryId, fallbackCost for that account's settled
 * entries. Returns how many entries this call acknowledged.
 * Only the call whose XACK acknowledges an entry decrements pending by its cost (read from the entry;
 * the fallback only if the entry is gone), so a repeated ack, or an id listed twice, is harmless.
 * INCR gen (once) refuses a load that read Postgres before these settlements landed there. A mirror
 * loaded after one of the captures (lseq >= its seq) may have read Postgres after the settlement was
 * written but before this ack, subtracting the cost twice (in Postgres and as pending): drop it.
 */
export const ackScript = `
local A, stream = KEYS[1], KEYS[2] .. ':settle'
local acked = 0
local stale = false
local loadedAt = tonumber(redis.call('GET', A .. ':lseq') or '0')
for i = 2, #ARGV - 1, 2 do
  local id = ARGV[i]
  if redis.call('XACK', stream, ARGV[1], id) == 1 then
    acked = acked + 1
    local cost = ARGV[i + 1]
    local seq = nil
    local entry = redis.call('XRANGE', stream, id, id)[1]
    if entry then
      local fields = entry[2]
      for j = 1, #fields, 2 do
        if fields[j] == 'cost' then cost = fields[j + 1] end
        if fields[j] == 'seq' then seq = tonumber(fields[j + 1]) end
      end
    end
    redis.call('DECRBY', A .. ':pending', cost)
    if seq == nil or loadedAt >= seq then stale = true end
  end
  redis.call('XDEL', stream, id)
end
if acked == 0 then return 0 end
redis.call('INCR', A .. ':gen')
if stale then redis.call('DEL', A .. ':bal') end
return acked
`;

/**
 * KEYS: S. ARGV: group, consumer, max, claimIdleMs.
 * One round trip for what a settler claims from one shard: takes over entries other consumers left
 * idle that long, removes consumers that own nothing and have been idle that long (dead instances),
 * then returns this consumer's pending entries, oldest first, topped up with new ones to max.
 * Replies with a flat list of {id, fields} (fields nil when the entry was deleted while pending).
 */
export const claimScript = `
local stream, group, me = KEYS[1] .. ':settle', ARGV[1], ARGV[2]
local max, idle = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('XAUTOCLAIM', stream, group, me, idle, '0-0', 'COUNT', max, 'JUSTID')
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if info['name'] ~= me and tonumber(info['pending']) == 0 and tonumber(info['idle']) >= idle then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, info['name'])
  end
end
local entries = {}
local function take(reply)
  if not reply then return end
  for _, s in ipairs(reply) do
    for _, entry in ipairs(s[2]) do entries[#entries + 1] = entry end
  end
end
take(redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', max, 'STREAMS', stream, '0'))
if #entries < max then
  take(redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', max - #entries, 'STREAMS', stream, '>'))
end
return entries
`;

/**
 * KEYS: S. ARGV: nowMs, markerTtlMs, max.
 * The sweeper: ends up to max holds of this shard that expired without capture (their instance died,
 * or stopped extending them): settled by their last progress, else voided. Safe to run on every
 * instance at once: each hold is ended by one script, and a settled one is marked captured.
 * Returns {settled, voided}.
 */
export const sweepScript = `${prelude}
local S = KEYS[1]
local due = redis.call('ZRANGEBYSCORE', S .. ':expiry', '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local settled, voided = 0, 0
for _, m in ipairs(due) do
  local cut = string.find(m, '\\n', 1, true)
  local acct, holdId = string.sub(m, 1, cut - 1), string.sub(m, cut + 1)
  local A = S .. ':acct:' .. acct
  local expiry = redis.call('ZSCORE', A .. ':holds', holdId)
  if not expiry then
    redis.call('ZREM', S .. ':expiry', m) -- ended already
  elseif tonumber(expiry) > tonumber(ARGV[1]) then
    redis.call('ZADD', S .. ':expiry', expiry, m) -- extended meanwhile
  elseif expire(A, S, acct, holdId, ARGV[2]) == 'settled' then
    settled = settled + 1
  else
    voided = voided + 1
  end
end
return {settled, voided}
`;

/**
 * KEYS: S. ARGV: nowMs. Read-only, for reconcile: {queued entries, oldest entry time ms or 0,
 * holds past expiry in the index}.
 */
export const shardStatsScript = `
local stream = KEYS[1] .. ':settle'
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
local oldest = 0
if first then oldest = tonumber(string.match(first[1], '^(%d+)')) end
return {redis.call('XLEN', stream), oldest, redis.call('ZCOUNT', KEYS[1] .. ':expiry', '-inf', ARGV[1])}
`;

/** KEYS: marker. ARGV: token. The shard's data-loss marker: written when missing; returns its value. */
export const markerScript = `
local value = redis.call('GET', KEYS[1])
if value then return value end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`;
