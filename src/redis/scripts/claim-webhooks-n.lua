--[[
  Leases the deliveries that are due, from each queue up to its own limit and
  up to a total: each is rescheduled to now + lease, so no other instance takes
  it while this one delivers it; if this one dies, the lease runs out and
  another takes it. A queue found empty leaves the set of queues (an append
  puts it back).
  KEYS[1] outbox stream  KEYS[2] attempts (hash: entry ID -> failed attempts)
  KEYS[3] queues (set)  KEYS[4..] the queues to take from
  ARGV[1] now (ms)  ARGV[2] lease (ms)  ARGV[3] most to take in all
  ARGV[4..] most to take from each queue, in KEYS[4..]'s order
  Returns: { entryId, attemptsSoFar, { field, value, ... }, queue } per delivery leased.
]]
local now = tonumber(ARGV[1])
local left = tonumber(ARGV[3])
local leased = {}
for k = 4, #KEYS do
  local queue = KEYS[k]
  local most = math.min(tonumber(ARGV[k]), left)
  if most > 0 then
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'LIMIT', 0, most)) do
      local entries = redis.call('XRANGE', KEYS[1], id, id)
      if #entries == 0 then
        -- Its entry is gone (delivered by a holder whose lease had run out): nothing to send.
        redis.call('ZREM', queue, id)
        redis.call('HDEL', KEYS[2], id)
      else
        redis.call('ZADD', queue, now + tonumber(ARGV[2]), id)
        leased[#leased + 1] = { id, tonumber(redis.call('HGET', KEYS[2], id) or '0'), entries[1][2], queue }
        left = left - 1
      end
    end
  end
  if redis.call('ZCARD', queue) == 0 then
    redis.call('SREM', KEYS[3], queue)
  end
end
return leased
