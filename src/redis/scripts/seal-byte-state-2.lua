--[[
  The upload's bytes are in their final form (the multipart upload is
  completed): the state keeps only what a completed upload needs (its size and
  ETag), with the expiry it had. A resent call finds it sealed and succeeds.
  KEYS[1] upload hash   KEYS[2] byte-store state hash
  ARGV[1] size   ARGV[2] ETag of the object
  Returns: 1 sealed; -1 the upload or its state is gone
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 then
  if ttl == -2 then
    return -1
  end
  ttl = redis.call('PTTL', KEYS[1])
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'sealed', '1', 'size', ARGV[1], 'etag', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
