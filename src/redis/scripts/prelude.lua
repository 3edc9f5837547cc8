--[[
  Prepended to the scripts that move an upload (scripts.ts, PRELUDED): the
  functions they share.
  Its entries in its bucket's indexes are written by the same script as its
  record, in the same slot (keys.ts), so the two never disagree for long and
  cost no round trip of their own. The script's last six keys are the
  bucket's indexes (IndexKeys.all): expiry, recent, then those of the statuses
  uploading, assembling, completed, failed.
]]
local INDEX = #KEYS - 5
local STATUS_INDEX = {uploading = INDEX + 2, assembling = INDEX + 3, completed = INDEX + 4, failed = INDEX + 5}
-- The upload is due for removal at `at` (ms).
local function indexDue(id, at)
  redis.call('ZADD', KEYS[INDEX], at, id)
end
-- The upload was active at `at` (ms) and is now `status`; it was `previous` (false: in no status index).
local function indexActive(id, status, previous, at)
  redis.call('ZADD', KEYS[INDEX + 1], at, id)
  redis.call('ZADD', KEYS[STATUS_INDEX[status]], at, id)
  if previous and previous ~= status and STATUS_INDEX[previous] then
    redis.call('ZREM', KEYS[STATUS_INDEX[previous]], id)
  end
end
-- Calls `command` (SADD or SREM) on the set `key` for the chunk indexes first..last, 1000 to a call (Lua's
-- unpack has a limit); returns the sum of the replies: how many were added or removed.
local function forChunks(command, key, first, last)
  local total = 0
  local batch = {}
  for i = first, last do
    batch[#batch + 1] = i
    if #batch == 1000 or i == last then
      total = total + redis.call(command, key, unpack(batch))
      batch = {}
    end
  end
  return total
end
