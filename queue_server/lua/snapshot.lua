-- A consistent picture of one center, with the stream id it is current to (so a display can
-- resume from there): ARGV[3] tickets listed per queue (0 = counts only), [4] '1' to add the
-- metrics hash, [5] '1' to add today's totals, [6] '1' to add the recent calls. Read-only.
local RECENT_LOOKBACK = 500
load_meta()
local now = now_ms()
local limit = tonumber(ARGV[3])
local last = redis.call('XREVRANGE', K.events(), '+', '-', 'COUNT', 1)
local live_totals = redis.call('HMGET', K.live(), 'waiting', 'called', 'serving')
local out = {center = CENTER, name = META.name, now = now, target_s = META.target_s,
  last_id = last[1] and last[1][1] or '0-0', counters = {}, services = {}, recent = {},
  totals = {waiting = tonumber(live_totals[1] or '0'), called = tonumber(live_totals[2] or '0'),
    serving = tonumber(live_totals[3] or '0')}}

local function listed(key, queue_class)
  if limit <= 0 then return {} end
  local rows = {}
  for _, id in ipairs(redis.call('ZRANGE', key, 0, limit - 1)) do
    local v = redis.call('HMGET', K.ticket(id), 'number', 'prio', 'arrived', 'appt', 'service',
      'note')
    rows[#rows + 1] = {id = id, number = v[1], priority = v[2], arrived = tonumber(v[3]),
      appt = tonumber(v[4]), service = v[5], note = v[6], queue = queue_class}
  end
  return rows
end

local function head_arrival(key, by_arrival)
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if not head[1] then return nil end
  if by_arrival then return tonumber(head[2]) end
  return tonumber(redis.call('HGET', K.ticket(head[1]), 'arrived'))
end

for _, id in ipairs(split(META.counters)) do
  local c = load_counter(id)
  local view = counter_view(c)
  view.name = redis.call('HGET', K.counter(id), 'name')
  view.streak = c.streak
  if c.tk ~= '' then
    local v = redis.call('HMGET', K.ticket(c.tk), 'number', 'prio', 'status', 'called', 'started',
      'service', 'issued', 'arrived')
    view.current = {id = c.tk, number = v[1], priority = v[2], status = v[3],
      called = tonumber(v[4]), started = tonumber(v[5]), service = v[6], issued = tonumber(v[7]),
      arrived = tonumber(v[8])}
  end
  view.queued = redis.call('ZCARD', K.counter_queue(id))
    + redis.call('ZCARD', K.counter_queue_priority(id))
  view.tickets = listed(K.counter_queue_priority(id), 'P')
  for _, row in ipairs(listed(K.counter_queue(id), 'N')) do view.tickets[#view.tickets + 1] = row end
  out.counters[#out.counters + 1] = view
end

for _, service in ipairs(split(META.services)) do
  local q, qp, qa = K.queue(service), K.queue_priority(service), K.queue_appointment(service)
  local oldest = nil
  for _, arrival in ipairs({head_arrival(q, true) or false, head_arrival(qp, true) or false,
    head_arrival(qa, false) or false}) do
    if arrival and (oldest == nil or arrival < oldest) then oldest = arrival end
  end
  local row = {id = service, normal = redis.call('ZCARD', q), priority = redis.call('ZCARD', qp),
    appointment = redis.call('ZCARD', qa), oldest = oldest or 0,
    load = service_load(service, '', now), tickets = listed(qp, 'P')}
  for _, r in ipairs(listed(qa, 'A')) do row.tickets[#row.tickets + 1] = r end
  for _, r in ipairs(listed(q, 'N')) do row.tickets[#row.tickets + 1] = r end
  out.services[#out.services + 1] = row
end

-- The last calls come from the stream itself (nothing extra to write on every call); looking
-- back a bounded number of events keeps this cheap.
if ARGV[6] == '1' then
  for _, entry in ipairs(redis.call('XREVRANGE', K.events(), '+', '-', 'COUNT', RECENT_LOOKBACK)) do
    local e = cmsgpack.unpack(entry[2][2])
    if (e.type == 'called' or e.type == 'recalled') and e.ticket and e.counter then
      out.recent[#out.recent + 1] = {number = e.ticket.number, counter = e.counter.id,
        service = e.ticket.service, priority = e.ticket.priority, at = e.at, type = e.type,
        id = e.ticket.id}
      if #out.recent >= META.recent_n then break end
    end
  end
end
if ARGV[4] == '1' then out.metrics = redis.call('HGETALL', K.metrics()) end
if ARGV[5] == '1' then out.day = redis.call('HGETALL', K.day(local_day(now))) end
return cmsgpack.pack(out)
