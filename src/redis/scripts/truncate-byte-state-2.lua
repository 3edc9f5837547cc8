--[[
  Forget the parts (and the tail) past a length: what a byte store holds is
  cut back to the longest prefix of recorded parts, plus the tail if it ends
  within the length. Used when unverified bytes must be discarded, on uploads
  whose parts all have the part size (those a PATCH writes).
  KEYS[1] upload hash   KEYS[2] byte-store state hash
  ARGV[1] length   ARGV[2] part size
  Returns: {bytes now held, key of a forgotten tail or ''}; -1 the state is gone
]]
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local length = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[2], 'partCount', 'tailKey', 'tailLength', 'tailPart')
local count = tonumber(f[1]) or 0
local keep = math.min(count, math.floor(length / size))
for n = keep + 1, count do
  redis.call('HDEL', KEYS[2], 'p:' .. n)
end
local held = keep * size
redis.call('HSET', KEYS[2], 'partCount', keep, 'held', held)
local dropped = ''
if f[2] then
  if tonumber(f[4]) == keep + 1 and held + tonumber(f[3]) <= length then
    held = held + tonumber(f[3])
  else
    dropped = f[2]
    redis.call('HDEL', KEYS[2], 'tailKey', 'tailLength', 'tailPart')
  end
end
return {held, dropped}
