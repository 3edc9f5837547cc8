--[[
  Create an upload's record and its expiry in one step, unless one exists, and
  enter it in its bucket's indexes.
  A resent call (ioredis resends a command whose reply was lost) finds the
  record it created itself, recognised by its creation time, and succeeds again.
  KEYS[1] upload hash   KEYS[2] received-chunks set   KEYS[3..8] the bucket's indexes (prelude.lua)
  ARGV[1] upload ID   ARGV[2] expiresAt (ms since epoch)   ARGV[3] createdAt (ms since epoch)
  ARGV[4] status   ARGV[5..] field, value, field, value, ... (the whole record, createdAt included)
  Returns: 1 created; 0 another record with this ID already exists
]]
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  if redis.call('HGET', KEYS[1], 'createdAt') == ARGV[3] then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
indexDue(ARGV[1], ARGV[2])
indexActive(ARGV[1], ARGV[4], false, ARGV[3])
return 1
