-- A consistent picture of one center, with the stream id it is current to (so a display can
-- resume from there): ARGV[3] tickets listed per queue (0 = counts only), [4] '1' to add the
-- metrics hash, [5] '1' to add today's totals and numbering, [6] '1' to add the recent calls.
-- Read-only. Counts come as the scripts keep them (records.py); engine.py decodes them.
local RECENT_LOOKBACK = 500
local m = settings('name', 'target_s', 'counters', 'services', 'recent_n')
local now = now_ms(m)
local day = local_day(now)
local limit = tonumber(ARGV[3])
local last = redis.call('XREVRANGE', K.events(), '+', '-', 'COUNT', '1')
local out = {center = center_id(), name = m[3], now = now, target_s = tonumber(m[4]),
  last_id = last[1] and last[1][1] or '0-0', counters = {}, services = {}, recent = {},
  totals = redis.call('HGET', K.live(), 'tot') or '0'}

local function listed(key, queue_class)
  if limit <= 0 then return {} end
  local rows = {}
  for _, id in ipairs(redis.call('ZRANGE', key, '0', int(limit - 1))) do
    local t = load_ticket(id)
    rows[#rows + 1] = {id = id, number = t[TF.number], priority = t[TF.priority],
      arrived = t[TF.arrived], appt = t[TF.appt], service = t[TF.service], note = t[TF.note],
      queue = queue_class}
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
  local out = {}
  for i, item in ipairs(list) do out[i] = make(item) end
  return out
end

local ids = split(m[5])
local records = redis.call('MGET', unpack(each(ids, function(id) return K.counter(id) end)))
local names = redis.call('HMGET', KEYS[1], unpack(each(ids, function(id) return 'k:' .. id end)))
local queued = redis.call('HMGET', K.live(), unpack(each(ids, function(id) return 'q:' .. id end)))
for i, id in ipairs(ids) do
  local c = cmsgpack.unpack(records[i])
  local view = {id = id, state = c[CF.state], staff = c[CF.staff], ticket = c[CF.ticket],
    reason = c[CF.reason], since = c[CF.since], services = table.concat(c[CF.services], ','),
    name = names[i], streak = c[CF.streak], held_since = c[CF.held_since],
    queued = queued[i] or '0'}
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

local service_ids = split(m[6])
local counts = redis.call('HMGET', K.live(),
  unpack(each(service_ids, function(id) return 'w:' .. id end)))
local done_today = redis.call('HMGET', K.day(day),
  unpack(each(service_ids, function(id) return 'sv:' .. id end)))
local infos = redis.call('HMGET', KEYS[1],
  unpack(each(service_ids, function(id) return 's:' .. id end)))
for i, service in ipairs(service_ids) do
  local q, qp, qa = K.queue(service), K.queue_priority(service), K.queue_appointment(service)
  local oldest = nil
  for _, arrival in ipairs({head_arrival(q, true) or false, head_arrival(qp, true) or false,
    head_arrival(qa, false) or false}) do
    if arrival and (oldest == nil or arrival < oldest) then oldest = arrival end
  end
  local row = {id = service, counts = counts[i] or '0', done_today = done_today[i] or '0',
    oldest = oldest or 0, typical_s = tonumber(typical_of(infos[i])), tickets = listed(qp, 'P')}
  for _, r in ipairs(listed(qa, 'A')) do row.tickets[#row.tickets + 1] = r end
  for _, r in ipairs(listed(q, 'N')) do row.tickets[#row.tickets + 1] = r end
  out.services[#out.services + 1] = row
end

-- The last calls come from the stream itself (nothing extra to write on every call); looking
-- back a bounded number of events keeps this cheap.
if ARGV[6] == '1' then
  local wanted = tonumber(m[7])
  for _, entry in ipairs(redis.call('XREVRANGE', K.events(), '+', '-', 'COUNT',
      int(RECENT_LOOKBACK))) do
    local e = cmsgpack.unpack(entry[2][2])
    local kind, at, call = e[1], e[2], nil
    if kind ~= nil then
      local t, c = e[3], e[4]
      if t and c then
        call = {number = t[TF.number], counter = c[CF.id], service = t[TF.service],
          priority = t[TF.priority], id = t[TF.id]}
      end
    else  -- an event of the first layout: a map with the ticket and counter as maps
      kind, at = e.type, e.at
      if e.ticket and e.counter then
        call = {number = e.ticket.number, counter = e.counter.id, service = e.ticket.service,
          priority = e.ticket.priority, id = e.ticket.id}
      end
    end
    if (kind == 'called' or kind == 'recalled') and call then
      call.at, call.type = at, kind
      out.recent[#out.recent + 1] = call
      if #out.recent >= wanted then break end
    end
  end
end
if ARGV[4] == '1' then out.metrics = redis.call('HGETALL', K.metrics()) end
if ARGV[5] == '1' then
  out.day = redis.call('HGETALL', K.day(day))
  out.numbered = redis.call('HGETALL', K.seq(day))
end
return cmsgpack.pack(out)
