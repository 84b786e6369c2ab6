-- Write a center's configuration for the scripts, and its calendar's closing instants.
-- Live state is kept: a counter that exists keeps its state and services; a new one starts
-- closed. The live counts are recounted from the queues and counters themselves, so a
-- restart heals any drift. The day stays open until its closing instant, even if that has
-- passed while the server was down: the next script then closes it (day.lua).
-- KEYS[1] the center's meta. ARGV[5] the configuration (JSON, engine.py:center_config).
local cfg = cjson.decode(ARGV[5])
local now = now_ms({nil, redis.call('HGET', KEYS[1], 'clock')})
local kept = redis.call('HMGET', KEYS[1], 'clock', 'day', 'opened_at', 'closed_day')
local opened_at = tonumber(kept[3] or '') or now

redis.call('DEL', K.closes())
for _, instant in ipairs(cfg.closes) do
  redis.call('ZADD', K.closes(), int(instant[2]), instant[1])
end

-- The fields every call reads come first: a small hash is searched from its start.
local fields = {'maxlen', cfg.maxlen, 'clock', kept[1] or '0',
  'closes_at', int(next_close(opened_at)),
  'max_in_row', cfg.max_in_row, 'window_ms', cfg.window_ms, 'max_recalls', cfg.max_recalls,
  'late_ms', cfg.late_ms, 'keep_ms', cfg.keep_ms}
local service_ids, counter_ids = {}, {}
for _, s in ipairs(cfg.services) do
  service_ids[#service_ids + 1] = s.id
  fields[#fields + 1] = 's:' .. s.id
  fields[#fields + 1] = s.prefix .. ' ' .. s.typical_s .. ' ' .. s.slot_ms
end
for _, p in ipairs(cfg.prios) do fields[#fields + 1] = 'p:' .. p fields[#fields + 1] = '1' end
for _, r in ipairs(cfg.reasons) do fields[#fields + 1] = 'r:' .. r fields[#fields + 1] = '1' end
for _, c in ipairs(cfg.counters) do
  counter_ids[#counter_ids + 1] = c.id
  fields[#fields + 1] = 'k:' .. c.id
  fields[#fields + 1] = c.name
end
for _, v in ipairs({'name', cfg.name, 'recent_n', cfg.recent_n, 'idem_ttl', cfg.idem_ttl,
  'target_s', cfg.target_s, 'prios', table.concat(cfg.prios, ','),
  'reasons', table.concat(cfg.reasons, ','), 'services', table.concat(service_ids, ','),
  'counters', table.concat(counter_ids, ','), 'day', kept[2] or local_day(now),
  'opened_at', int(opened_at), 'closed_day', kept[4] or ''}) do
  fields[#fields + 1] = v
end
redis.call('DEL', K.meta())
redis.call('HSET', K.meta(), unpack(fields))

-- The live counts, recounted.
local live = {waiting = 0, called = 0, serving = 0}
for _, c in ipairs(cfg.counters) do
  local raw = redis.call('GET', K.counter(c.id))
  local record
  if not raw then
    record = blank_counter()
    record[CF.id], record[CF.services] = c.id, c.services
    redis.call('SET', K.counter(c.id), cmsgpack.pack(record))
  else
    record = cmsgpack.unpack(raw)
  end
  if record[CF.state] == 'open' then
    for _, service in ipairs(record[CF.services]) do
      live['a:' .. service] = (live['a:' .. service] or 0) + 1
    end
  end
  if record[CF.ticket] ~= '' then
    local t = redis.call('HGET', K.ticket(record[CF.ticket]), 'r')
    local status = t and cmsgpack.unpack(t)[TF.status]
    if status == 'called' or status == 'serving' then live[status] = live[status] + 1 end
  end
  live['K:' .. c.id] = redis.call('ZCARD', K.counter_queue(c.id))
  live['KP:' .. c.id] = redis.call('ZCARD', K.counter_queue_priority(c.id))
  live.waiting = live.waiting + live['K:' .. c.id] + live['KP:' .. c.id]
end
for _, s in ipairs(cfg.services) do
  live['N:' .. s.id] = redis.call('ZCARD', K.queue(s.id))
  live['A:' .. s.id] = redis.call('ZCARD', K.queue_appointment(s.id))
  live['P:' .. s.id] = redis.call('ZCARD', K.queue_priority(s.id))
  live.waiting = live.waiting + live['N:' .. s.id] + live['A:' .. s.id] + live['P:' .. s.id]
end
redis.call('DEL', K.live())
local args = {}
for name, value in pairs(live) do args[#args + 1], args[#args + 2] = name, int(value) end
redis.call('HSET', K.live(), unpack(args))
return 'OK'
