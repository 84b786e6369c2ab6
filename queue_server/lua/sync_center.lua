-- Write a center's configuration for the scripts (ARGV[3]: JSON). Live counter state is kept:
-- a counter that exists keeps its state and services; a new one starts closed. The counts
-- the scripts keep incrementally (records.py) are recounted from the queues, counters and
-- tickets themselves, so a restart heals any drift.
--
-- A center last written by the first layout (no meta field 'format') is converted first:
-- tickets and counters from hashes of fields to records, and staff time from 'idle' to
-- 'open' (idle is now open minus serving), so the exported counters carry on from where
-- they were. Old events stay in the stream; the readers know both forms.
local FORMAT = '2'
local cfg = cjson.decode(ARGV[3])

local function convert_first_layout()
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', K.ticket('*'), 'COUNT', '1000')
    cursor = page[1]
    for _, key in ipairs(page[2]) do
      if redis.call('TYPE', key).ok == 'hash' and redis.call('HEXISTS', key, 'r') == 0 then
        local flat, t = redis.call('HGETALL', key), {}
        for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
        local ttl = redis.call('PTTL', key)
        local record = {t.id, t.number, t.service, t.status, t.prio or '', t.channel,
          t.counter or '', t.staff or '', tonumber(t.arrived or '0'), tonumber(t.issued or '0'),
          tonumber(t.appt or '0'), tonumber(t.called or '0'), tonumber(t.started or '0'),
          tonumber(t.ended or '0'), tonumber(t.recalls or '0'), tonumber(t.rating or '0'),
          t.from or '', t.to or '', t.note or '', t.tc or ''}
        redis.call('DEL', key)
        redis.call('HSET', key, 'r', cmsgpack.pack(record), 'h', t.th or '')
        if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
      end
    end
  until cursor == '0'
  for _, c in ipairs(cfg.counters) do
    local key = K.counter(c.id)
    if redis.call('TYPE', key).ok == 'hash' then
      local flat, v = redis.call('HGETALL', key), {}
      for i = 1, #flat, 2 do v[flat[i]] = flat[i + 1] end
      local since, held = tonumber(v.since or '0'), v.tk or ''
      redis.call('DEL', key)
      redis.call('SET', key, cmsgpack.pack({c.id, v.state or 'closed', v.staff or '', held,
        v.reason or '', since, tonumber(v.streak or '0'), split(v.svcs or ''),
        held ~= '' and since or 0}))
    end
  end
  local metrics = redis.call('HGETALL', K.metrics())
  for i = 1, #metrics, 2 do
    local staff = string.match(metrics[i], '^s_time|(.+)|idle$')
    if staff then
      local serving = redis.call('HGET', K.metrics(), 's_time|' .. staff .. '|serving') or '0'
      redis.call('HINCRBY', K.metrics(), 's_time|' .. staff .. '|open',
        string.format('%d', tonumber(metrics[i + 1]) + tonumber(serving)))
      redis.call('HDEL', K.metrics(), metrics[i])
    end
  end
  redis.call('HDEL', K.live(), 'waiting', 'called', 'serving')
  for _, service in ipairs(cfg.services) do redis.call('HDEL', K.live(), 'a:' .. service.id) end
end

if redis.call('EXISTS', K.meta()) == 1 and redis.call('HGET', K.meta(), 'format') ~= FORMAT then
  convert_first_layout()
end
-- The fields every call reads come first: a small hash is searched from its start.
local fields = {'maxlen', cfg.maxlen, 'clock', redis.call('HGET', K.meta(), 'clock') or '0',
  'max_in_row', cfg.max_in_row, 'window_ms', cfg.window_ms, 'max_recalls', cfg.max_recalls}
local service_ids, counter_ids = {}, {}
for _, s in ipairs(cfg.services) do
  service_ids[#service_ids + 1] = s.id
  for _, v in ipairs({'s:' .. s.id, s.prefix .. ' ' .. s.typical_s}) do
    fields[#fields + 1] = v
  end
end
for _, p in ipairs(cfg.prios) do fields[#fields + 1] = 'p:' .. p fields[#fields + 1] = '1' end
for _, r in ipairs(cfg.reasons) do fields[#fields + 1] = 'r:' .. r fields[#fields + 1] = '1' end
for _, c in ipairs(cfg.counters) do
  counter_ids[#counter_ids + 1] = c.id
  fields[#fields + 1] = 'k:' .. c.id
  fields[#fields + 1] = c.name
end
for _, v in ipairs({'format', FORMAT, 'name', cfg.name, 'recent_n', cfg.recent_n,
  'idem_ttl', cfg.idem_ttl,
  'target_s', cfg.target_s, 'prios', table.concat(cfg.prios, ','),
  'reasons', table.concat(cfg.reasons, ','), 'services', table.concat(service_ids, ','),
  'counters', table.concat(counter_ids, ',')}) do fields[#fields + 1] = v end
redis.call('DEL', K.meta())
redis.call('HSET', K.meta(), unpack(fields))

-- Counters: create the new ones; count the open ones per service and the tickets in hand.
local active, in_hand = {}, {called = 0, serving = 0}
for _, c in ipairs(cfg.counters) do
  local raw = redis.call('GET', K.counter(c.id))
  local record
  if not raw then
    record = {c.id, 'closed', '', '', '', 0, 0, c.services, 0}
    redis.call('SET', K.counter(c.id), cmsgpack.pack(record))
  else
    record = cmsgpack.unpack(raw)
  end
  if record[CF.state] == 'open' then
    for _, service in ipairs(record[CF.services]) do
      active[service] = (active[service] or 0) + 1
    end
  end
  if record[CF.ticket] ~= '' then
    local t = redis.call('HGET', K.ticket(record[CF.ticket]), 'r')
    local status = t and cmsgpack.unpack(t)[TF.status]
    if in_hand[status] then in_hand[status] = in_hand[status] + 1 end
  end
  local queued = redis.call('ZCARD', K.counter_queue(c.id)) * KQ.N
    + redis.call('ZCARD', K.counter_queue_priority(c.id)) * KQ.P
  redis.call('HSET', K.live(), 'q:' .. c.id, string.format('%d', queued))
end
local waiting = 0
for _, c in ipairs(cfg.counters) do
  local q = tonumber(redis.call('HGET', K.live(), 'q:' .. c.id))
  waiting = waiting + q % KQ.P + math.floor(q / KQ.P)
end
for _, s in ipairs(cfg.services) do
  local n = redis.call('ZCARD', K.queue(s.id))
  local a = redis.call('ZCARD', K.queue_appointment(s.id))
  local p = redis.call('ZCARD', K.queue_priority(s.id))
  waiting = waiting + n + a + p
  redis.call('HSET', K.live(), 'w:' .. s.id, string.format('%d', n * SQ.N + a * SQ.A
    + p * SQ.P + (active[s.id] or 0) * SQ.active))
end
redis.call('HSET', K.live(), 'tot', string.format('%d', waiting * TOT.waiting
  + in_hand.called * TOT.called + in_hand.serving * TOT.serving))
return 'OK'
