-- Write a center's configuration for the scripts (ARGV[3]: JSON). Live counter state is kept:
-- a counter that exists keeps its state and services; a new one starts closed.
local cfg = cjson.decode(ARGV[3])
local service_ids, counter_ids = {}, {}
local fields = {'name', cfg.name, 'max_in_row', cfg.max_in_row, 'window_ms', cfg.window_ms,
  'max_recalls', cfg.max_recalls, 'maxlen', cfg.maxlen, 'recent_n', cfg.recent_n,
  'idem_ttl', cfg.idem_ttl, 'target_s', cfg.target_s, 'prios', table.concat(cfg.prios, ','),
  'reasons', table.concat(cfg.reasons, ',')}
for _, s in ipairs(cfg.services) do
  service_ids[#service_ids + 1] = s.id
  for _, v in ipairs({'svc:' .. s.id .. ':prefix', s.prefix, 'svc:' .. s.id .. ':typical',
    s.typical_s}) do fields[#fields + 1] = v end
end
for _, c in ipairs(cfg.counters) do counter_ids[#counter_ids + 1] = c.id end
for _, v in ipairs({'services', table.concat(service_ids, ','), 'counters',
  table.concat(counter_ids, ',')}) do fields[#fields + 1] = v end
redis.call('DEL', K.meta())
redis.call('HSET', K.meta(), unpack(fields))
-- Recount what the scripts keep incrementally (waiting per service, open counters per
-- service) from the queues and counters themselves: a restart heals any drift.
for _, s in ipairs(cfg.services) do
  local w = redis.call('ZCARD', K.queue(s.id)) + redis.call('ZCARD', K.queue_priority(s.id))
    + redis.call('ZCARD', K.queue_appointment(s.id))
  redis.call('HSET', K.live(), 'w:' .. s.id, w, 'a:' .. s.id, 0)
end
for _, c in ipairs(cfg.counters) do
  if redis.call('EXISTS', K.counter(c.id)) == 0 then
    redis.call('HSET', K.counter(c.id), 'state', 'closed', 'staff', '', 'tk', '', 'reason', '',
      'since', 0, 'streak', 0, 'svcs', table.concat(c.services, ','), 'name', c.name)
  else
    redis.call('HSET', K.counter(c.id), 'name', c.name)
    local state, svcs = unpack(redis.call('HMGET', K.counter(c.id), 'state', 'svcs'))
    if state == 'open' then
      for service in string.gmatch(svcs or '', '[^,]+') do
        redis.call('HINCRBY', K.live(), 'a:' .. service, 1)
      end
    end
  end
end
return 'OK'
