--[[
  Extend a lock's expiry, only while its owner still holds it.
  KEYS[1] lock key
  ARGV[1] owner token   ARGV[2] new TTL (ms)
  Returns: 1 extended; 0 the lock is not (or no longer) this owner's
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
