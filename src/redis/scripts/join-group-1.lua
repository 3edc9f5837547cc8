--[[
  Add an upload to a group (the parts of one file uploaded in parallel),
  unless the group already has its most members; the group outlives its members.
  A resent call finds the upload a member already and succeeds again.
  KEYS[1] group set
  ARGV[1] upload ID   ARGV[2] most members   ARGV[3] ttl (ms)
  Returns: 1 a member; 0 the group is full
]]
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
  end
  redis.call('SADD', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
