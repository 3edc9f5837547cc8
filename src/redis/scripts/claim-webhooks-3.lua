--[[
  Leases the deliveries that are due: each is rescheduled to now + lease, so
  no other instance takes it while this one delivers it; if this one dies,
  the lease runs out and another takes it.
  KEYS[1] due (sorted set)  KEYS[2] outbox stream  KEYS[3] attempts (hash: entry ID -> failed attempts)
  ARGV[1] now (ms)  ARGV[2] lease (ms)  ARGV[3] most to take
  Returns: { entryId, attemptsSoFar, { field, value, ... } } per delivery leased.
]]
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local leased = {}
for _, id in ipairs(due) do
  local entries = redis.call('XRANGE', KEYS[2], id, id)
  if #entries == 0 then
    -- Its entry is gone (delivered by a holder whose lease had run out): nothing to send.
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    leased[#leased + 1] = { id, tonumber(redis.call('HGET', KEYS[3], id) or '0'), entries[1][2] }
  end
end
return leased
