--[[
  Record that bytes [0, offset) of an upload are stored.
  Each chunk of the grid counts once: its index enters the set and the counter
  grows by what SADD reports as new, so a retried or resent call (ioredis resends
  a command whose reply was lost) changes nothing. The offset never moves back:
  a call that timed out and runs late cannot undo a newer one. A missing upload
  is never recreated (SADD or HINCRBY on a missing key would recreate it without
  a TTL). When the last byte is stored, 'uploading' becomes 'assembling'.
  The upload's speed is the bytes stored per second since a sample taken at
  least a second before.
  KEYS[1] upload hash   KEYS[2] received-chunks set
  ARGV[1] offset (bytes stored)   ARGV[2] now (ms since epoch)
  Returns: {offset, receivedChunks, status, previous status}; -1 the upload is
           gone; -2 the offset is beyond the upload's size
]]
local f = redis.call('HMGET', KEYS[1], 'offset', 'size', 'chunkSize', 'receivedChunks', 'status', 'expiresAt', 'speedAt', 'speedOffset')
if not f[1] then
  return -1
end
local offsetText = f[1]
if tonumber(ARGV[1]) > tonumber(f[1]) then
  offsetText = ARGV[1]
end
local offset = tonumber(offsetText)
local size = tonumber(f[2])
local chunkSize = tonumber(f[3])
local received = tonumber(f[4])
local status = f[5]
if size and offset > size then
  return -2
end
-- Chunk i is received when all of its bytes are stored: every full chunk below
-- the offset, and the short last chunk once the offset reaches a known size.
local complete = math.floor(offset / chunkSize)
if size and offset == size then
  complete = math.ceil(size / chunkSize)
end
if complete > received then
  local added = 0
  local batch = {}
  for i = received, complete - 1 do
    batch[#batch + 1] = i
    if #batch == 1000 or i == complete - 1 then
      added = added + redis.call('SADD', KEYS[2], unpack(batch))
      batch = {}
    end
  end
  received = redis.call('HINCRBY', KEYS[1], 'receivedChunks', added)
  redis.call('PEXPIREAT', KEYS[2], f[6])
end
if size and offset == size and status == 'uploading' then
  status = 'assembling'
end
local fields = {'offset', offsetText, 'status', status, 'updatedAt', ARGV[2]}
local now = tonumber(ARGV[2])
local sampledAt = tonumber(f[7])
if not sampledAt then
  fields[#fields + 1] = 'speedAt'
  fields[#fields + 1] = ARGV[2]
  fields[#fields + 1] = 'speedOffset'
  fields[#fields + 1] = offsetText
elseif now - sampledAt >= 1000 then
  fields[#fields + 1] = 'speedBytesPerSecond'
  fields[#fields + 1] = math.floor((offset - tonumber(f[8])) * 1000 / (now - sampledAt))
  fields[#fields + 1] = 'speedAt'
  fields[#fields + 1] = ARGV[2]
  fields[#fields + 1] = 'speedOffset'
  fields[#fields + 1] = offsetText
end
redis.call('HSET', KEYS[1], unpack(fields))
return {offset, received, status, f[5]}
