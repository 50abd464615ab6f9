// Lua for RedisLimitStore. Every key of one call carries the API key's hash tag ({key:ID}), so a
// script touches one Cluster slot. Time is Redis's own clock (TIME), so instances need not agree on it.
//
// Keys: rate (hash r, rt, t, tt: bucket levels and when they were computed), spent (this month's
// settled cost), resv (zset reservation -> expiry ms), resvamt (hash reservation -> amount),
// resvsum (sum of open reservations).
//
// Levels are fractional (continuous refill) and stored as Lua formats them; replies are integers.

const prelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(n) return string.format('%d', n) end

-- The bucket's level now: refilled by the time passed since it was stored, at most cap.
local function level(value, at, cap)
  if not value then return cap end
  local l = tonumber(value) + (now - tonumber(at)) * cap / 60000
  if l > cap then return cap end
  return l
end

local function untilFull(l, cap) return math.ceil((cap - l) * 60000 / cap) end
local function whole(l) if l < 0 then return 0 end return math.floor(l) end

local function dropExpired(resv, resvamt, resvsum)
  local expired = redis.call('ZRANGEBYSCORE', resv, '-inf', now, 'LIMIT', 0, 500)
  if #expired == 0 then return end
  local amounts = redis.call('HMGET', resvamt, unpack(expired))
  local total = 0
  for _, a in ipairs(amounts) do total = total + (tonumber(a) or 0) end
  redis.call('ZREM', resv, unpack(expired))
  redis.call('HDEL', resvamt, unpack(expired))
  redis.call('DECRBY', resvsum, int(total))
end

-- Keep the rate hash until both buckets would be full again (a full bucket is the same as none).
local function store(rate, r, rpm, tk, tpm)
  local ttl = 1000
  if rpm > 0 then
    redis.call('HSET', rate, 'r', tostring(r), 'rt', now)
    ttl = math.max(ttl, untilFull(r, rpm) + 1000)
  end
  if tpm > 0 then
    redis.call('HSET', rate, 't', tostring(tk), 'tt', now)
    ttl = math.max(ttl, untilFull(tk, tpm) + 1000)
  end
  redis.call('PEXPIRE', rate, ttl)
end
`;

/**
 * KEYS: rate, spent, resv, resvamt, resvsum.
 * ARGV: rpm, tpm, budget (0 = none), tokens, cost, reservationId, reservationTtlMs.
 * Replies {status, ...}: status 1 admitted {1, reqRemaining, reqResetMs, tokRemaining, tokResetMs,
 * spent, reserved, reservedCost}; 0 limited {0, which (1 requests, 2 tokens), retryAfterMs,
 * reqRemaining, reqResetMs, tokRemaining, tokResetMs}; 3 budget spent {3, spent, reserved};
 * 2 spend unknown {2}. Nothing changes unless admitted.
 */
export const admitScript = `${prelude}
local rpm, tpm, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local want, cost = tonumber(ARGV[4]), tonumber(ARGV[5])
local spent, reserved = 0, 0
if budget > 0 then
  local s = redis.call('GET', KEYS[2])
  if not s then return {2} end
  spent = tonumber(s)
  dropExpired(KEYS[3], KEYS[4], KEYS[5])
  reserved = tonumber(redis.call('GET', KEYS[5]) or '0')
  if spent + reserved >= budget then return {3, spent, reserved} end
end
local rate = redis.call('HMGET', KEYS[1], 'r', 'rt', 't', 'tt')
local r, tk = 0, 0
if rpm > 0 then r = level(rate[1], rate[2], rpm) end
if tpm > 0 then tk = level(rate[3], rate[4], tpm) end
if rpm > 0 and r < 1 then
  return {0, 1, math.ceil((1 - r) * 60000 / rpm), whole(r), untilFull(r, rpm), whole(tk), tpm > 0 and untilFull(tk, tpm) or 0}
end
if tpm > 0 and tk < want then
  return {0, 2, math.ceil((want - tk) * 60000 / tpm), whole(r), rpm > 0 and untilFull(r, rpm) or 0, whole(tk), untilFull(tk, tpm)}
end
r = r - 1
tk = tk - want
if rpm > 0 or tpm > 0 then store(KEYS[1], r, rpm, tk, tpm) end
local held = 0
if budget > 0 then
  held = math.min(cost, budget - spent - reserved)
  if held > 0 then
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[7]), ARGV[6])
    redis.call('HSET', KEYS[4], ARGV[6], int(held))
    redis.call('INCRBY', KEYS[5], int(held))
    redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[7]) + 60000)
    redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[7]) + 60000)
    redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[7]) + 60000)
    reserved = reserved + held
  end
end
return {1, whole(r), rpm > 0 and untilFull(r, rpm) or 0, whole(tk), tpm > 0 and untilFull(tk, tpm) or 0, spent, reserved, held}
`;

/**
 * KEYS: rate, spent, resv, resvamt, resvsum. ARGV: tpm (0 = none), tokenDelta, reservationId, cost.
 * Ends the reservation, adds the cost to the month's spend (when the spend is known: otherwise the
 * next load reads it from Postgres) and corrects the token bucket by the delta.
 */
export const settleScript = `${prelude}
local tpm, delta, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local amount = redis.call('HGET', KEYS[4], ARGV[3])
if amount then
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('HDEL', KEYS[4], ARGV[3])
  redis.call('DECRBY', KEYS[5], amount)
end
if cost > 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], int(cost)) end
if tpm > 0 and delta ~= 0 then
  local rate = redis.call('HMGET', KEYS[1], 'r', 'rt', 't', 'tt')
  local tk = level(rate[3], rate[4], tpm) - delta
  if tk > tpm then tk = tpm end
  redis.call('HSET', KEYS[1], 't', tostring(tk), 'tt', now)
  local ttl = untilFull(tk, tpm) + 1000
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return 1
`;
