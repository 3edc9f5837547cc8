--[[
  Set fields of an upload's record, only if the record exists (HSET on a
  missing key would create it without a TTL).
  KEYS[1] upload hash
  ARGV[1..] field, value, field, value, ...
  Returns: 1 set; -1 the upload is gone
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
