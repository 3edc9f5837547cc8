--[[
  Appends one webhook delivery per URL to the outbox stream and schedules each
  for now, atomically: no entry exists without its schedule.
  KEYS[1] outbox stream   KEYS[2] due (sorted set: entry ID -> next attempt, ms)
  ARGV[1] now (ms)  ARGV[2] event type  ARGV[3] idempotency key  ARGV[4] JSON body
  ARGV[5..] URLs
  Returns: the entry IDs added.
  A resend after a lost reply appends the deliveries again, with the same
  idempotency key: delivery is at least once, and receivers dedupe by key.
]]
local ids = {}
for i = 5, #ARGV do
  local id = redis.call('XADD', KEYS[1], '*', 'url', ARGV[i], 'key', ARGV[3], 'type', ARGV[2], 'body', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[1], id)
  ids[#ids + 1] = id
end
return ids
