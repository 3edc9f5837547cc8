--[[
  Record that part n of an upload's multipart upload is stored (S3 answered
  with its ETag). Parts are recorded in order only, so the durable offset is
  always held (the recorded parts' bytes) + tailLength. A tail the part absorbed (the
  bytes of part n kept as an object while part n could not be sent yet) is
  forgotten, and its key returned for deletion. A resent call (same part,
  same ETag) succeeds again and changes nothing.
  KEYS[1] upload hash   KEYS[2] byte-store state hash
  ARGV[1] part number n   ARGV[2] ETag   ARGV[3] the part's length (added to held)
  Returns: {1, key of the tail to delete or ''}; -1 the upload or its state is
           gone; -2 part n does not follow the recorded parts
]]
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local n = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[2], 'partCount', 'tailKey', 'tailPart')
local count = tonumber(f[1]) or 0
if n <= count then
  if redis.call('HGET', KEYS[2], 'p:' .. n) == ARGV[2] then
    return {1, ''}
  end
  return -2
end
if n ~= count + 1 then
  return -2
end
redis.call('HSET', KEYS[2], 'p:' .. n, ARGV[2], 'partCount', n)
redis.call('HINCRBY', KEYS[2], 'held', ARGV[3])
local absorbed = ''
if f[2] and tonumber(f[3]) == n then
  absorbed = f[2]
  redis.call('HDEL', KEYS[2], 'tailKey', 'tailLength', 'tailPart')
end
return {1, absorbed}
