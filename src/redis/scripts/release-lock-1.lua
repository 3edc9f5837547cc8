--[[
  Delete a lock, only if its owner still holds it (another owner's lock, taken
  after this one expired, is left alone).
  KEYS[1] lock key
  ARGV[1] owner token
  Returns: 1 released; 0 the lock was not this owner's
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
