--[[
  End an upload's assembly: 'completed' (with its SHA-256) or 'failed' (with a
  reason). Only an upload that is 'assembling' moves; all its keys take the
  new expiry, and its bucket's indexes follow (prelude.lua). A resent call
  finds the status and expiry it set itself and succeeds again.
  KEYS[1] upload hash   KEYS[2] received-chunks set   KEYS[3] byte-store state (if any)
  KEYS[4..9] the bucket's indexes
  ARGV[1] upload ID   ARGV[2] status   ARGV[3] now (ms)   ARGV[4] expiresAt (ms)
  ARGV[5] '1' if the byte store keeps state in KEYS[3], else '0'
  ARGV[6..] further field, value pairs (sha256 and completedAt, or error)
  Returns: 1 moved; 0 the upload is not assembling; -1 the upload is gone
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'expiresAt')
if not f[1] then
  return -1
end
if f[1] == ARGV[2] and f[2] == ARGV[4] then
  return 1
end
if f[1] ~= 'assembling' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updatedAt', ARGV[3], 'expiresAt', ARGV[4], unpack(ARGV, 6))
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
if ARGV[5] == '1' then
  redis.call('PEXPIREAT', KEYS[3], ARGV[4])
end
indexDue(ARGV[1], ARGV[4])
indexActive(ARGV[1], ARGV[2], 'assembling', ARGV[3])
return 1
