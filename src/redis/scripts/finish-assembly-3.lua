--[[
  End an upload's assembly: 'completed' (with its SHA-256) or 'failed' (with a
  reason). Only an upload that is 'assembling' moves; all its keys take the
  new expiry. A resent call finds the status and expiry it set itself and
  succeeds again.
  KEYS[1] upload hash   KEYS[2] received-chunks set   KEYS[3] byte-store state (if any)
  ARGV[1] status   ARGV[2] now (ms)   ARGV[3] expiresAt (ms)
  ARGV[4..] further field, value pairs (sha256 and completedAt, or error)
  Returns: 1 moved; 0 the upload is not assembling; -1 the upload is gone
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'expiresAt')
if not f[1] then
  return -1
end
if f[1] == ARGV[1] and f[2] == ARGV[3] then
  return 1
end
if f[1] ~= 'assembling' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updatedAt', ARGV[2], 'expiresAt', ARGV[3], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[3], ARGV[3])
return 1
