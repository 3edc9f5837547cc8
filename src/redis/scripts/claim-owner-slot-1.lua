--[[
  Counts a new upload against its owner's limit of unfinished uploads, if the
  owner is below it. Entries whose time has passed (their upload expired) stop
  counting; finished uploads are removed by the caller before it asks.
  KEYS[1] the owner's active set (sorted set: upload ID -> when it stops counting, ms)
  ARGV[1] upload ID  ARGV[2] now (ms)  ARGV[3] when this upload stops counting (ms)
  ARGV[4] limit  ARGV[5] TTL of the set (ms)
  Returns: 1 counted (also when already counted: a resend is harmless); 0 the owner is at the limit.
]]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
