--[[
  Take over an upload's lock from a holder taken for dead (its instance's
  liveness key is gone), only if the lock is still the one seen: compare and
  set. A resent call finds its own value and succeeds again.
  KEYS[1] lock key
  ARGV[1] the value seen (the dead holder's)   ARGV[2] the new value   ARGV[3] ttl (ms)
  Returns: 1 taken over; 0 the lock changed meanwhile
]]
local current = redis.call('GET', KEYS[1])
if current == ARGV[2] then
  return 1
end
if current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
