-- Admit one call against several limits at once, atomically: all pass and are charged, or
-- none is charged and the first one exceeded is named.
--
-- ARGV: now_ms, call_id, tokens, n_checks, then per check: kind, limit, span_ms
-- KEYS: per check, in order: tokens_sliding takes 3 (zset, hash, sum), the others 1.
-- Kinds:
--   requests_sliding  calls in the last span_ms (a sorted set of call ids by time)
--   tokens_sliding    tokens reserved in the last span_ms (ids by time, tokens by id, a sum)
--   tokens_fixed      tokens in a calendar period; span_ms = ms until the period ends
--   concurrency       calls in flight (ids scored by lease deadline = now + span_ms)
-- Returns {1, 0, 0} when admitted, else {0, failed_check_index, retry_after_ms}.

local now = tonumber(ARGV[1])
local id = ARGV[2]
local tokens = tonumber(ARGV[3])
local count = tonumber(ARGV[4])

local checks = {}
local a, k = 5, 1
for i = 1, count do
  local check = {kind = ARGV[a], limit = tonumber(ARGV[a + 1]), span = tonumber(ARGV[a + 2])}
  a = a + 3
  if check.kind == 'tokens_sliding' then
    check.z, check.h, check.s = KEYS[k], KEYS[k + 1], KEYS[k + 2]
    k = k + 3
  else
    check.key = KEYS[k]
    k = k + 1
  end
  checks[i] = check
end

local function retry_from_oldest(zset, span)
  local oldest = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
  if oldest[2] then
    return math.max(1, tonumber(oldest[2]) + span - now)
  end
  return span
end

for i, c in ipairs(checks) do
  if c.kind == 'requests_sliding' then
    redis.call('ZREMRANGEBYSCORE', c.key, '-inf', now - c.span)
    if redis.call('ZCARD', c.key) + 1 > c.limit then
      return {0, i, retry_from_oldest(c.key, c.span)}
    end
  elseif c.kind == 'tokens_sliding' then
    local expired = redis.call('ZRANGEBYSCORE', c.z, '-inf', now - c.span)
    for _, member in ipairs(expired) do
      local reserved = tonumber(redis.call('HGET', c.h, member) or '0')
      redis.call('DECRBY', c.s, reserved)
      redis.call('HDEL', c.h, member)
    end
    redis.call('ZREMRANGEBYSCORE', c.z, '-inf', now - c.span)
    local used = tonumber(redis.call('GET', c.s) or '0')
    if used + tokens > c.limit then
      return {0, i, retry_from_oldest(c.z, c.span)}
    end
  elseif c.kind == 'tokens_fixed' then
    local used = tonumber(redis.call('GET', c.key) or '0')
    if used + tokens > c.limit then
      return {0, i, c.span}
    end
  elseif c.kind == 'concurrency' then
    redis.call('ZREMRANGEBYSCORE', c.key, '-inf', now)
    if redis.call('ZCARD', c.key) + 1 > c.limit then
      return {0, i, 1000}
    end
  end
end

for _, c in ipairs(checks) do
  if c.kind == 'requests_sliding' then
    redis.call('ZADD', c.key, now, id)
    redis.call('PEXPIRE', c.key, c.span)
  elseif c.kind == 'tokens_sliding' then
    redis.call('ZADD', c.z, now, id)
    redis.call('HSET', c.h, id, tokens)
    redis.call('INCRBY', c.s, tokens)
    for _, key in ipairs({c.z, c.h, c.s}) do
      redis.call('PEXPIRE', key, c.span * 2)
    end
  elseif c.kind == 'tokens_fixed' then
    redis.call('INCRBY', c.key, tokens)
    redis.call('PEXPIRE', c.key, c.span + 86400000)
  elseif c.kind == 'concurrency' then
    redis.call('ZADD', c.key, now + c.span, id)
    redis.call('PEXPIRE', c.key, c.span)
  end
end
return {1, 0, 0}
