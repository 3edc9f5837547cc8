--[[
  A delivery failed: it is scheduled again after an exponential backoff, or,
  after its last attempt, moved to the dead-letter stream.
  KEYS[1] the URL's queue  KEYS[2] outbox stream  KEYS[3] attempts  KEYS[4] dead-letter stream
  ARGV[1] entry ID  ARGV[2] now (ms)  ARGV[3] max attempts  ARGV[4] first delay (ms)
  ARGV[5] longest delay (ms)  ARGV[6] jitter factor (0.8..1.2)  ARGV[7] what went wrong
  ARGV[8] dead letters kept (approximately)
  Returns: the delay (ms) before the next attempt; -1 moved to the dead letters;
  0 the entry is gone (delivered meanwhile by another instance).
  Delay after attempt n: min(longest, first * 2^(n-1)) * jitter.
]]
local id = ARGV[1]
local entries = redis.call('XRANGE', KEYS[2], id, id)
if #entries == 0 then
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[3], id)
  return 0
end
local attempts = redis.call('HINCRBY', KEYS[3], id, 1)
local now = tonumber(ARGV[2])
if attempts >= tonumber(ARGV[3]) then
  local fields = entries[1][2]
  fields[#fields + 1] = 'attempts'
  fields[#fields + 1] = tostring(attempts)
  fields[#fields + 1] = 'error'
  fields[#fields + 1] = ARGV[7]
  fields[#fields + 1] = 'deadAt'
  fields[#fields + 1] = tostring(now)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
  redis.call('ZREM', KEYS[1], id)
  redis.call('XDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  return -1
end
local delay = math.min(tonumber(ARGV[5]), tonumber(ARGV[4]) * 2 ^ (attempts - 1))
delay = math.floor(delay * tonumber(ARGV[6]))
redis.call('ZADD', KEYS[1], now + delay, id)
return delay
