-- A consistent picture of one center, with the stream id it is current to (so a display can
-- resume from there). Read-only (the day close, when due, is left to the next transition).
-- KEYS[1] the center's meta. ARGV[5] tickets listed per queue (0 = counts only), [6] '1' to
-- add the metrics hash, [7] '1' to add today's totals and numbering, [8] '1' to add the
-- recent calls. snapshots.py decodes the answer.
local RECENT_LOOKBACK = 500
local m = settings('name', 'target_s', 'counters', 'services', 'recent_n', 'day', 'closes_at',
  'closed_day')
local now = now_ms(m)
local day = local_day(now)
local limit = tonumber(ARGV[5])
local last = redis.call('XREVRANGE', K.events(), '+', '-', 'COUNT', '1')
local out = {center = center_id(), name = m[4], now = now, target_s = tonumber(m[5]),
  last_id = last[1] and last[1][1] or '0-0', counters = {}, services = {}, recent = {},
  open_day = m[9] or day, closes_at = tonumber(m[10] or '0'), closed_day = m[11] or ''}

local function listed(key, queue_class)
  if limit <= 0 then return {} end
  local rows = {}
  for _, id in ipairs(redis.call('ZRANGE', key, '0', int(limit - 1))) do
    local t = load_ticket(id)
    rows[#rows + 1] = {id = id, number = t[TF.number], priority = t[TF.priority],
      arrived = t[TF.arrived], appt = t[TF.appt], service = t[TF.service], note = t[TF.note],
      queue = queue_class, target_counter = t[TF.target_counter]}
  end
  return rows
end

local function head_arrival(key, by_arrival)
  local head = redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')
  if not head[1] then return nil end
  if by_arrival then return tonumber(head[2]) end
  return load_ticket(head[1])[TF.arrived]
end

-- One read per kind for all counters or services, not one per counter or service.
local function each(list, make)
  local result = {}
  for i, item in ipairs(list) do result[i] = make(item) end
  return result
end

local ids = split(m[6])
local services = split(m[7])
local names = {'waiting', 'called', 'serving'}
for _, id in ipairs(ids) do names[#names + 1], names[#names + 2] = 'K:' .. id, 'KP:' .. id end
for _, s in ipairs(services) do
  names[#names + 1], names[#names + 2] = 'N:' .. s, 'A:' .. s
  names[#names + 1], names[#names + 2] = 'P:' .. s, 'a:' .. s
end
local live = live_get(names)
out.totals = totals_of(live)
local records = redis.call('MGET', unpack(each(ids, function(id) return K.counter(id) end)))
local counter_names = redis.call('HMGET', KEYS[1],
  unpack(each(ids, function(id) return 'k:' .. id end)))
for i, id in ipairs(ids) do
  local c = cmsgpack.unpack(records[i])
  local view = {id = id, state = c[CF.state], staff = c[CF.staff], ticket = c[CF.ticket],
    reason = c[CF.reason], since = c[CF.since], services = table.concat(c[CF.services], ','),
    name = counter_names[i], streak = c[CF.streak], held_since = c[CF.held_since],
    queued = live['K:' .. id] + live['KP:' .. id]}
  if c[CF.ticket] ~= '' then
    local t = load_ticket(c[CF.ticket])
    view.current = {id = c[CF.ticket], number = t[TF.number], priority = t[TF.priority],
      status = t[TF.status], called = t[TF.called], started = t[TF.started],
      service = t[TF.service], issued = t[TF.issued], arrived = t[TF.arrived]}
  end
  view.tickets = listed(K.counter_queue_priority(id), 'P')
  for _, row in ipairs(listed(K.counter_queue(id), 'N')) do view.tickets[#view.tickets + 1] = row end
  out.counters[#out.counters + 1] = view
end

local done = redis.call('HMGET', K.day(day), unpack(each(services, function(id)
  return DAY_SERVED .. id end)))
local done_ms = redis.call('HMGET', K.day(day), unpack(each(services, function(id)
  return DAY_SERVED_MS .. id end)))
local infos = redis.call('HMGET', KEYS[1], unpack(each(services, function(id)
  return 's:' .. id end)))
for i, service in ipairs(services) do
  local q, qp, qa = K.queue(service), K.queue_priority(service), K.queue_appointment(service)
  local oldest = nil
  for _, arrival in ipairs({head_arrival(q, true) or false, head_arrival(qp, true) or false,
    head_arrival(qa, false) or false}) do
    if arrival and (oldest == nil or arrival < oldest) then oldest = arrival end
  end
  local row = {id = service, normal = live['N:' .. service], priority = live['P:' .. service],
    appointment = live['A:' .. service], active = live['a:' .. service],
    done_n = tonumber(done[i] or '0'), done_ms = tonumber(done_ms[i] or '0'),
    oldest = oldest or 0, typical_s = tonumber(typical_of(infos[i])), tickets = listed(qp, 'P')}
  for _, r in ipairs(listed(qa, 'A')) do row.tickets[#row.tickets + 1] = r end
  for _, r in ipairs(listed(q, 'N')) do row.tickets[#row.tickets + 1] = r end
  out.services[#out.services + 1] = row
end

-- The last calls come from the stream itself (nothing extra to write on every call); looking
-- back a bounded number of events keeps this cheap. A day close ends the list.
if ARGV[8] == '1' then
  local wanted = tonumber(m[8])
  for _, entry in ipairs(redis.call('XREVRANGE', K.events(), '+', '-', 'COUNT',
      int(RECENT_LOOKBACK))) do
    local e = cmsgpack.unpack(entry[2][2])
    local kind, at, t, c = e[1], e[2], e[3], e[4]
    if kind == 'day_closed' then break end
    if (kind == 'called' or kind == 'recalled') and t and c then
      out.recent[#out.recent + 1] = {number = t[TF.number], counter = c[CF.id],
        service = t[TF.service], priority = t[TF.priority], id = t[TF.id], at = at, type = kind}
      if #out.recent >= wanted then break end
    end
  end
end
if ARGV[6] == '1' then
  -- The metrics as projected, and the instant of the first event not yet in them: a scrape
  -- adds spans in progress only up to there, so no exported counter ever goes back.
  out.metrics = redis.call('HGETALL', K.metrics())
  out.projected_to = redis.call('HGET', K.projection(), 'metrics') or '0-0'
  local pending = redis.call('XRANGE', K.events(), '(' .. out.projected_to, '+', 'COUNT', '1')
  if pending[1] then out.unprojected_at = cmsgpack.unpack(pending[1][2][2])[2] end
end
if ARGV[7] == '1' then
  out.day = redis.call('HGETALL', K.day(day))
  out.numbered = redis.call('HGETALL', K.seq(day))
end
return cmsgpack.pack(out)
