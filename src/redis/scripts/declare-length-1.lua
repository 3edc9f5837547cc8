--[[
  Declare the length of an upload created with Upload-Defer-Length, once.
  Declaring the same length again (a resent call) succeeds again.
  KEYS[1] upload hash
  ARGV[1] size (bytes)   ARGV[2] now (ms since epoch)
  Returns: totalChunks; -1 the upload is gone; -2 another length is already
           declared; -3 the size is below the bytes already stored
]]
local f = redis.call('HMGET', KEYS[1], 'offset', 'size', 'chunkSize', 'totalChunks')
if not f[1] then
  return -1
end
if f[2] then
  if f[2] == ARGV[1] then
    return tonumber(f[4])
  end
  return -2
end
if tonumber(ARGV[1]) < tonumber(f[1]) then
  return -3
end
local total = math.ceil(tonumber(ARGV[1]) / tonumber(f[3]))
redis.call('HSET', KEYS[1], 'size', ARGV[1], 'totalChunks', total, 'updatedAt', ARGV[2])
return total
