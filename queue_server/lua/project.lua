-- Apply one batch of a projection of the center's event stream (DESIGN.md §7): the deltas
-- that queue_server/projections.py computed from the events after checkpoint ARGV[6] up to
-- ARGV[7], applied exactly once: if the checkpoint is no longer ARGV[6], another replica
-- applied this batch (or a later one) first, and nothing is written.
-- KEYS[1] the center's meta. ARGV[5] projection name, [6] checkpoint the batch starts after,
-- [7] the batch's last stream id, [8] deltas: msgpack {incr = {<key> = {field, n, …}},
-- max = {<key> = {field, n, …}}, expire = {<key> = ms}}, keys being 'm' or 'day:YYYYMMDD',
-- [9] the 'at' of the batch's last event.
-- Answers {1 applied / 0 not, the checkpoint now}.
local name, from, to = ARGV[5], ARGV[6], ARGV[7]
local current = redis.call('HGET', K.projection(), name) or '0-0'
if current ~= from then return {0, current} end
local deltas = cmsgpack.unpack(ARGV[8])

local function key_of(suffix)
  if suffix ~= 'm' and not string.match(suffix, '^day:%d%d%d%d%d%d%d%d$') then
    error('project: unexpected key ' .. suffix)
  end
  return P .. suffix
end

for suffix, flat in pairs(deltas.incr or {}) do
  local key = key_of(suffix)
  for i = 1, #flat, 2 do redis.call('HINCRBY', key, flat[i], int(flat[i + 1])) end
end
-- 'max' fields only grow (a high-water mark such as a staff member's last activity).
for suffix, flat in pairs(deltas.max or {}) do
  local key = key_of(suffix)
  for i = 1, #flat, 2 do
    local old = tonumber(redis.call('HGET', key, flat[i]) or '0')
    if flat[i + 1] > old then redis.call('HSET', key, flat[i], int(flat[i + 1])) end
  end
end
for suffix, at in pairs(deltas.expire or {}) do
  redis.call('PEXPIREAT', key_of(suffix), int(at))
end
redis.call('HSET', K.projection(), name, to, name .. ':at', ARGV[9])
return {1, to}
