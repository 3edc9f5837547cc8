--[[
  A delivery succeeded: it leaves the outbox.
  KEYS[1] the URL's queue  KEYS[2] outbox stream  KEYS[3] attempts
  ARGV[1] entry ID
  Returns: 1 (also when already gone, so a resend is harmless).
]]
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('XDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
