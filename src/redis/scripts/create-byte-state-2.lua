--[[
  Create the state a byte store keeps in Redis for an upload (the S3 store:
  its multipart upload and part size), expiring with the upload's record. A
  resent call finds the state it created itself and succeeds again.
  KEYS[1] upload hash   KEYS[2] byte-store state hash
  ARGV[1] the field that identifies the state (e.g. uploadId)   ARGV[2] its value
  ARGV[3..] further field, value pairs
  Returns: 1 created; 0 another state exists; -1 the upload is gone
]]
local expiresAt = redis.call('HGET', KEYS[1], 'expiresAt')
if not expiresAt then
  return -1
end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then
  if existing == ARGV[2] then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[2], expiresAt)
return 1
