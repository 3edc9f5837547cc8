--[[
  Record that the bytes of part n received so far (fewer than a part, and not
  the end of the upload) are stored as an object of their own, the tail, which
  the next request that completes part n takes up. The tail it replaces is
  returned for deletion. A resent call (same key) succeeds again.
  KEYS[1] upload hash   KEYS[2] byte-store state hash
  ARGV[1] part number n   ARGV[2] the tail's object key   ARGV[3] its length
  Returns: {1, key of the replaced tail or ''}; -1 the upload or its state is
           gone; -2 part n does not follow the recorded parts
]]
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local f = redis.call('HMGET', KEYS[2], 'partCount', 'tailKey')
if f[2] == ARGV[2] then
  return {1, ''}
end
if tonumber(ARGV[1]) ~= (tonumber(f[1]) or 0) + 1 then
  return -2
end
redis.call('HSET', KEYS[2], 'tailKey', ARGV[2], 'tailLength', ARGV[3], 'tailPart', ARGV[1])
return {1, f[2] or ''}
