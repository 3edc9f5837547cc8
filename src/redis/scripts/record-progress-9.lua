--[[
  Record that bytes [0, offset) of an upload are stored, and optionally end its
  assembly in the same step (the write that stored its last byte also knows
  its digest).
  Each chunk of the grid counts once: its index enters the set and the counter
  grows by what SADD reports as new, so a retried or resent call (ioredis resends
  a command whose reply was lost) changes nothing. The offset never moves back:
  a call that timed out and runs late cannot undo a newer one. A missing upload
  is never recreated (SADD or HSET on a missing key would recreate it without
  a TTL). When the last byte is stored, 'uploading' becomes 'assembling'; with
  a final status given, an 'assembling' upload then moves on to it at once,
  with the new expiry on all its keys, as finish-assembly does.
  The upload's speed is the bytes stored per second since a sample taken at
  least a second before. Its bucket's indexes follow (prelude.lua).
  KEYS[1] upload hash   KEYS[2] received-chunks set   KEYS[3] byte-store state (if any)
  KEYS[4..9] the bucket's indexes
  ARGV[1] upload ID   ARGV[2] offset (bytes stored)   ARGV[3] now (ms since epoch)
  ARGV[4] final status, or '' to record only   ARGV[5] its expiresAt (ms)
  ARGV[6] '1' if the byte store keeps state in KEYS[3], else '0'
  ARGV[7..] further field, value pairs of the final status (sha256, completedAt)
  Returns: {offset, receivedChunks, status, previous status, moved (1: it took the final status now or before)};
           -1 the upload is gone; -2 the offset is beyond the upload's size
]]
local id = ARGV[1]
local f = redis.call('HMGET', KEYS[1], 'offset', 'size', 'chunkSize', 'receivedChunks', 'status', 'expiresAt', 'speedAt', 'speedOffset')
if not f[1] then
  return -1
end
local offsetText = f[1]
if tonumber(ARGV[2]) > tonumber(f[1]) then
  offsetText = ARGV[2]
end
local offset = tonumber(offsetText)
local size = tonumber(f[2])
local chunkSize = tonumber(f[3])
local received = tonumber(f[4])
local status = f[5]
local final = ARGV[4]
if final ~= '' and status == final and f[6] == ARGV[5] then
  return {offset, received, status, status, 1}
end
if size and offset > size then
  return -2
end
local expiresAt = f[6]
local fields = {}
-- Chunk i is received when all of its bytes are stored: every full chunk below
-- the offset, and the short last chunk once the offset reaches a known size.
local complete = math.floor(offset / chunkSize)
if size and offset == size then
  complete = math.ceil(size / chunkSize)
end
local added = 0
if complete > received then
  added = forChunks('SADD', KEYS[2], received, complete - 1)
  received = received + added
  fields[#fields + 1] = 'receivedChunks'
  fields[#fields + 1] = received
end
if size and offset == size and status == 'uploading' then
  status = 'assembling'
end
local moved = 0
if final ~= '' and status == 'assembling' then
  status = final
  expiresAt = ARGV[5]
  moved = 1
  fields[#fields + 1] = 'expiresAt'
  fields[#fields + 1] = expiresAt
  for i = 7, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
end
fields[#fields + 1] = 'offset'
fields[#fields + 1] = offsetText
fields[#fields + 1] = 'status'
fields[#fields + 1] = status
fields[#fields + 1] = 'updatedAt'
fields[#fields + 1] = ARGV[3]
local now = tonumber(ARGV[3])
local sampledAt = tonumber(f[7])
if not sampledAt then
  fields[#fields + 1] = 'speedAt'
  fields[#fields + 1] = ARGV[3]
  fields[#fields + 1] = 'speedOffset'
  fields[#fields + 1] = offsetText
elseif now - sampledAt >= 1000 then
  fields[#fields + 1] = 'speedBytesPerSecond'
  fields[#fields + 1] = math.floor((offset - tonumber(f[8])) * 1000 / (now - sampledAt))
  fields[#fields + 1] = 'speedAt'
  fields[#fields + 1] = ARGV[3]
  fields[#fields + 1] = 'speedOffset'
  fields[#fields + 1] = offsetText
end
redis.call('HSET', KEYS[1], unpack(fields))
if moved == 1 then
  redis.call('PEXPIREAT', KEYS[1], expiresAt)
  if ARGV[6] == '1' then
    redis.call('PEXPIREAT', KEYS[3], expiresAt)
  end
  indexDue(id, expiresAt)
end
if added > 0 or moved == 1 then
  redis.call('PEXPIREAT', KEYS[2], expiresAt)
end
indexActive(id, status, f[5], ARGV[3])
return {offset, received, status, f[5], moved}
