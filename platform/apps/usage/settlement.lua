-- Settle an admitted call: move its token reservations to what it really used (delta may
-- be negative; a failed call releases all) and end its concurrency lease.
--
-- ARGV: call_id, delta_tokens, n_checks, then per check: kind
-- KEYS: as for admission.lua
local id = ARGV[1]
local delta = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local k = 1
for i = 1, count do
  local kind = ARGV[3 + i]
  if kind == 'tokens_sliding' then
    local h, s = KEYS[k + 1], KEYS[k + 2]
    if redis.call('HEXISTS', h, id) == 1 then  -- not yet out of the window
      redis.call('HINCRBY', h, id, delta)
      redis.call('INCRBY', s, delta)
    end
    k = k + 3
  else
    if kind == 'tokens_fixed' then
      if redis.call('EXISTS', KEYS[k]) == 1 then
        redis.call('INCRBY', KEYS[k], delta)
      end
    elseif kind == 'concurrency' then
      redis.call('ZREM', KEYS[k], id)
    end
    k = k + 1
  end
end
return 1
