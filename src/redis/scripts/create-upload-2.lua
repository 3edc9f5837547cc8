--[[
  Create an upload's record and its expiry in one step, unless one exists.
  KEYS[1] upload hash   KEYS[2] received-chunks set
  ARGV[1] expiresAt (ms since epoch)   ARGV[2..] field, value, field, value, ...
  Returns: 1 created, 0 a record with this ID already exists
]]
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
