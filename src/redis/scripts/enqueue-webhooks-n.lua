--[[
  Appends one webhook delivery per URL to the outbox stream and schedules each
  for now in its URL's queue, atomically: no entry exists without its schedule.
  One queue per URL, so that a receiver that is slow or down delays only its
  own deliveries (the dispatcher takes from every queue).
  KEYS[1] outbox stream  KEYS[2] queues (set of queue key names)
  KEYS[3..] the queue of each URL (sorted set: entry ID -> next attempt, ms), in ARGV[5..]'s order
  ARGV[1] now (ms)  ARGV[2] event type  ARGV[3] idempotency key  ARGV[4] JSON body
  ARGV[5..] URLs
  Returns: the entry IDs added.
  A resend after a lost reply appends the deliveries again, with the same
  idempotency key: delivery is at least once, and receivers dedupe by key.
]]
local ids = {}
for i = 5, #ARGV do
  local queue = KEYS[i - 2]
  local id = redis.call('XADD', KEYS[1], '*', 'url', ARGV[i], 'key', ARGV[3], 'type', ARGV[2], 'body', ARGV[4])
  redis.call('ZADD', queue, ARGV[1], id)
  redis.call('SADD', KEYS[2], queue)
  ids[#ids + 1] = id
end
return ids
