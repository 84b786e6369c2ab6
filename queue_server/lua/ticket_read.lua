-- Read one ticket with what its estimated wait needs. Read-only.
-- KEYS[1] the center's meta. ARGV[5] ticket id.
-- Answers {ticket record (packed), people ahead (-1 unless waiting), open counters that would
-- call it, its service's completions today {count, ms} (projected), its typical seconds,
-- now, the hash of its token}.
local m = settings('window_ms')
local t, packed = load_ticket(ARGV[5])
local now = now_ms(m)
local service, tc, window = t[TF.service], t[TF.target_counter], tonumber(m[FIRST_SETTING])
local live = live_get({'a:' .. service, 'P:' .. service, 'KP:' .. tc})
local active = live['a:' .. service]
if tc ~= '' then active = load_counter(tc)[CF.state] == 'open' and 1 or 0 end
-- People before a waiting ticket: it approximates the routing order (docs/rules.md lists
-- what it leaves out): its rank in its queue (equal times ordered by id, as calls are), and
-- for a normal ticket the priority tickets and the appointments due.
local ahead = -1
if t[TF.status] == 'waiting' then
  local key = queue_key(t)
  ahead = redis.call('ZRANK', key, t[TF.id]) or 0
  local class = t[TF.queue]
  if class == 'K' then
    ahead = ahead + live['KP:' .. tc]
  elseif class == 'N' then
    ahead = ahead + live['P:' .. service] + redis.call('ZCOUNT', K.queue_appointment(service),
      '-inf', int(now + window))
  elseif class == 'A' then
    ahead = ahead + live['P:' .. service]
  end
end
local day = local_day(now)
local done = redis.call('HMGET', K.day(day), DAY_SERVED .. service, DAY_SERVED_MS .. service)
local hashes = redis.call('HMGET', K.ticket(t[TF.id]), 'h')
return {packed, ahead, active, {done[1] or '0', done[2] or '0'},
  typical_of(redis.call('HGET', KEYS[1], 's:' .. service)), now, hashes[1] or ''}
