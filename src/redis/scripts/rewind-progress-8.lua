--[[
  Move an upload's recorded offset back to the bytes really stored, when the
  disk holds fewer than recorded (bytes lost in a crash before they reached the
  disk). Chunks at or past the new offset leave the set and the counter together,
  and the upload is 'uploading' again so the client can resend them; its
  bucket's indexes follow (prelude.lua).
  KEYS[1] upload hash   KEYS[2] received-chunks set   KEYS[3..8] the bucket's indexes
  ARGV[1] upload ID   ARGV[2] offset (bytes stored)   ARGV[3] now (ms since epoch)
  Returns: chunks removed (0: nothing to rewind); -1 the upload is gone
]]
local f = redis.call('HMGET', KEYS[1], 'offset', 'chunkSize', 'receivedChunks', 'status')
if not f[1] then
  return -1
end
if tonumber(ARGV[2]) >= tonumber(f[1]) then
  return 0
end
local keep = math.floor(tonumber(ARGV[2]) / tonumber(f[2]))
local received = tonumber(f[3])
local removed = forChunks('SREM', KEYS[2], keep, received - 1)
redis.call('HDEL', KEYS[1], 'sha256', 'completedAt', 'error')
redis.call('HSET', KEYS[1], 'receivedChunks', received - removed, 'offset', ARGV[2], 'status', 'uploading', 'updatedAt', ARGV[3])
indexActive(ARGV[1], 'uploading', f[4], ARGV[3])
return removed
