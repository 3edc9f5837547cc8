--[[
  Count a PATCH that ended without storing its whole body, once per request:
  a resent call carrying the same request ID does not count it again.
  KEYS[1] upload hash
  ARGV[1] request ID   ARGV[2] now (ms since epoch)
  Returns: failedChunks; -1 the upload is gone
]]
local f = redis.call('HMGET', KEYS[1], 'failedChunks', 'lastFailedRequest')
if not f[1] then
  return -1
end
if f[2] == ARGV[1] then
  return tonumber(f[1])
end
redis.call('HSET', KEYS[1], 'lastFailedRequest', ARGV[1], 'updatedAt', ARGV[2])
return redis.call('HINCRBY', KEYS[1], 'failedChunks', 1)
