--[[
  Create an upload's record and its expiry in one step, unless one exists.
  A resent call (ioredis resends a command whose reply was lost) finds the
  record it created itself, recognised by its creation time, and succeeds again.
  KEYS[1] upload hash   KEYS[2] received-chunks set
  ARGV[1] expiresAt (ms since epoch)   ARGV[2] createdAt (ms since epoch)
  ARGV[3..] field, value, field, value, ... (the whole record, createdAt included)
  Returns: 1 created; 0 another record with this ID already exists
]]
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  if redis.call('HGET', KEYS[1], 'createdAt') == ARGV[2] then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
