-- The center's day (DESIGN.md §10, docs/rules.md "The center's day"). The server writes the
-- instants at which the live day ends into the zset 'closes' (closing time plus the grace on
-- working days, and every local midnight: rules/calendar.py); meta 'closes_at' is the first of
-- them after the day was opened ('opened_at'). Every script starts with begin(): if that
-- instant has passed, the day is closed first, as a step of its own, whatever the script then
-- does or refuses. So a missed scheduler can never leave yesterday's state behind.

-- The first end of day after 'after' (at the latest the local midnight after it).
local function next_close(after)
  local found = redis.call('ZRANGEBYSCORE', K.closes(), '(' .. int(after), '+inf',
    'WITHSCORES', 'LIMIT', '0', '1')
  if found[2] then return tonumber(found[2]) end
  return day_end(after)
end

-- 'at' is the closing instant (the day's end, or now if that is earlier): what a ticket
-- ended at and a counter closed at, so staff time stops there however late the close runs.
local function expire_ticket(m, t, at, counter, before)
  t[TF.status], t[TF.ended], t[TF.queue] = TO.expire, at, ''
  return emit(m, 'expired', at, save_ticket(t), counter, before)
end

local function close_counters(m, at)
  local closed, expired = 0, 0
  for _, id in ipairs(split(redis.call('HGET', KEYS[1], 'counters') or '')) do
    local c, packed = load_counter(id)
    if c[CF.ticket] ~= '' then
      local t = load_ticket(c[CF.ticket])
      c[CF.ticket], c[CF.held_since] = '', 0
      local released = save_counter(c)
      if ALLOWED.expire[t[TF.status]] then
        expire_ticket(m, t, at, released, packed)
        expired = expired + 1
      end
      packed = released
    end
    if c[CF.state] ~= 'closed' then
      c[CF.state], c[CF.staff], c[CF.reason], c[CF.streak], c[CF.since] =
        'closed', '', '', 0, whole_second(at)
      emit(m, 'counter_closed', at, nil, save_counter(c), packed, nil, nil, nil,
        {reason = 'day_close'})
      closed = closed + 1
    end
  end
  return closed, expired
end

local function expire_queue(m, key, at)
  local ids = redis.call('ZRANGE', key, '0', '-1')
  for _, id in ipairs(ids) do expire_ticket(m, load_ticket(id), at) end
  if #ids > 0 then redis.call('DEL', key) end
  return #ids
end

-- Bookings whose day is over become no-shows (rules/states.py, BOOKING_LAPSES_TO).
local function lapse_bookings(m, at)
  local ids = redis.call('ZRANGEBYSCORE', K.booked(), '-inf', '(' .. int(day_end(at - 1)))
  for _, id in ipairs(ids) do
    local t = load_ticket(id)
    t[TF.status], t[TF.ended] = LAPSED, at
    emit(m, 'no_show', at, save_ticket(t), nil, nil, nil, nil, nil, {reason = 'day_close'})
    redis.call('ZREM', K.booked(), id)
  end
  return #ids
end

local function close_day(m, now)
  local at = math.min(now, tonumber(m[3]))
  local day = redis.call('HGET', KEYS[1], 'day') or local_day(at - 1)
  local closed, expired = close_counters(m, at)
  for _, service in ipairs(split(redis.call('HGET', KEYS[1], 'services') or '')) do
    for _, key in ipairs({K.queue_priority(service), K.queue_appointment(service),
        K.queue(service)}) do
      expired = expired + expire_queue(m, key, at)
    end
  end
  for _, id in ipairs(split(redis.call('HGET', KEYS[1], 'counters') or '')) do
    expired = expired + expire_queue(m, K.counter_queue_priority(id), at)
    expired = expired + expire_queue(m, K.counter_queue(id), at)
  end
  local lapsed = lapse_bookings(m, at)
  redis.call('DEL', K.live())
  local closes_at = next_close(now)
  redis.call('HSET', KEYS[1], 'day', local_day(now), 'opened_at', int(now),
    'closes_at', int(closes_at), 'closed_day', day)
  m[3] = int(closes_at)
  emit(m, 'day_closed', at, nil, nil, nil, nil, {0, 0, 0}, nil,
    {day = day, expired = expired, no_show = lapsed, counters = closed})
end

-- Settings, the time, and the day close if it is due: how every transition begins.
local function begin(...)
  local m = settings(...)
  local now = now_ms(m)
  local closes_at = tonumber(m[3])
  if closes_at and now >= closes_at then close_day(m, now) end
  return m, now
end
