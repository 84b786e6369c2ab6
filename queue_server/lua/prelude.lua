-- Shared by every script. scripts.py puts in front of this: P (the center's key prefix, set
-- by setup), the key functions K.* rendered from keys.py, and WAIT_BOUNDS / SERVICE_BOUNDS.
-- ARGV[1] is the idempotency key ('' for none), ARGV[2] the request's fingerprint.
--
-- Rule of every script: validate everything first, write afterwards. Redis does not roll back
-- a script that fails halfway, so a refusal must come before the first write.
--
-- The same text runs as a Redis Function library (defined once, called with FCALL) and as
-- separate scripts (EVALSHA, on a Cluster): setup() binds the call's keys either way.

local IDEM, FP, CENTER = '', '', ''
local META = {}

local function setup()
  P = string.sub(KEYS[1], 1, -5)  -- KEYS[1] is the center's 'meta' key
  IDEM, FP = ARGV[1], ARGV[2]
  CENTER = string.match(P, '{c:(.-)}')
  META = {}
end

local function fail(code, message)
  error({err = 'QMS ' .. code .. ' ' .. message})
end

-- Redis TIME, plus the meta field 'clock' (ms) that only tests set: call after load_meta().
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + (META.clock or 0)
end

-- Local calendar day (UTC+7, no daylight saving) as YYYYMMDD; civil-from-days arithmetic.
local function local_day(ms)
  local days = math.floor((math.floor(ms / 1000) + 25200) / 86400)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d%02d%02d', y, m, d)
end

local function in_list(list, item)
  return string.find(',' .. list .. ',', ',' .. item .. ',', 1, true) ~= nil
end

local function split(list)
  local out = {}
  for item in string.gmatch(list, '[^,]+') do out[#out + 1] = item end
  return out
end

-- The center's policy; an unknown center is refused before anything else.
local META_FIELDS = {'name', 'max_in_row', 'window_ms', 'max_recalls', 'maxlen', 'recent_n',
  'idem_ttl', 'services', 'prios', 'reasons', 'counters', 'target_s', 'clock'}
local META_NUMBERS = {'max_in_row', 'window_ms', 'max_recalls', 'maxlen', 'recent_n',
  'idem_ttl', 'target_s', 'clock'}
local function load_meta()
  local values = redis.call('HMGET', K.meta(), unpack(META_FIELDS))
  if not values[1] then fail('unknown-center', 'unknown center ' .. CENTER) end
  for i, name in ipairs(META_FIELDS) do META[name] = values[i] end
  for _, name in ipairs(META_NUMBERS) do META[name] = tonumber(META[name]) end
end

-- A retried request with the same key returns the first answer, unchanged.
local function replay()
  if IDEM == '' then return nil end
  local previous = redis.call('GET', K.idempotency(IDEM))
  if not previous then return nil end
  local cut = string.find(previous, '\n', 1, true)
  if string.sub(previous, 1, cut - 1) ~= FP then
    fail('idempotency-mismatch', 'idempotency key ' .. IDEM .. ' was used for a different request')
  end
  return string.sub(previous, cut + 1)
end

-- Every mutating script starts here: the center must exist, and a replay answers at once.
local function begin()
  load_meta()
  return replay()
end

local function finish(result)
  local packed = cmsgpack.pack(result)
  if IDEM ~= '' then
    redis.call('SET', K.idempotency(IDEM), FP .. '\n' .. packed, 'EX', META.idem_ttl)
  end
  return packed
end

local function require_service(service)
  if not in_list(META.services, service) then
    fail('unknown-service', 'unknown service ' .. service .. ' at center ' .. CENTER)
  end
end

local function load_ticket(id)
  local flat = redis.call('HGETALL', K.ticket(id))
  if #flat == 0 then fail('unknown-ticket', 'unknown ticket ' .. id) end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- A citizen acts on a ticket only with its secret: the stored hash must match.
local function require_token(t, token_hash)
  if token_hash ~= '' and token_hash ~= t.th then
    fail('forbidden', 'the ticket token does not match ticket ' .. t.number)
  end
end

local function load_counter(id)
  if not in_list(META.counters, id) then
    fail('unknown-counter', 'unknown counter ' .. id .. ' at center ' .. CENTER)
  end
  local flat = redis.call('HGETALL', K.counter(id))
  local c = {}
  for i = 1, #flat, 2 do c[flat[i]] = flat[i + 1] end
  c.id = id
  c.state, c.staff, c.tk = c.state or 'closed', c.staff or '', c.tk or ''
  c.svcs, c.reason = c.svcs or '', c.reason or ''
  c.since = tonumber(c.since or '0')
  c.streak = tonumber(c.streak or '0')
  return c
end

-- A counter's staff check: '' acts as the system or a supervisor, anyone else must hold it.
local function require_holder(c, staff)
  if staff ~= '' and c.staff ~= staff then
    fail('counter-state', 'counter ' .. c.id .. ' is held by ' .. (c.staff ~= '' and c.staff
      or 'nobody') .. ', not by ' .. staff)
  end
end

local function require_ticket_status(t, allowed, action)
  if not in_list(allowed, t.status) then
    fail('illegal-transition', 'cannot ' .. action .. ' ticket ' .. t.number .. ' (' .. t.id
      .. '): it is ' .. t.status .. ', expected ' .. allowed)
  end
end

-- A counter that may call someone: open, and nothing in hand.
local function require_free(c)
  if c.state ~= 'open' then
    fail('counter-state', 'counter ' .. c.id .. ' is ' .. c.state .. ', not open')
  end
  if c.tk ~= '' then
    fail('counter-state', 'counter ' .. c.id .. ' still has ticket ' .. c.tk
      .. ' in hand: start and complete it, mark it no-show or transfer it first')
  end
end

-- Held-ticket check for counter actions (recall, start, complete, no-show).
local function held_ticket(c, allowed, action)
  if c.tk == nil or c.tk == '' then
    fail('illegal-transition', 'cannot ' .. action .. ': counter ' .. c.id
      .. ' has no ticket in hand')
  end
  local t = load_ticket(c.tk)
  require_ticket_status(t, allowed, action)
  return t
end

---------------------------------------------------------------- writes (after validation)

local function inc(field, by)
  redis.call('HINCRBY', K.metrics(), field, by or 1)
end

-- Today's totals; the hash gets its expiry from touch_day (first ticket of the day, or a
-- counter opening), not from every increment.
local function day_inc(now, field, by)
  redis.call('HINCRBY', K.day(local_day(now)), field, by or 1)
end

local function touch_day(now)
  redis.call('EXPIRE', K.day(local_day(now)), 40 * 86400)
end

local function observe(name, label, ms, bounds)
  local index = #bounds + 1
  for i, bound in ipairs(bounds) do
    if ms <= bound * 1000 then index = i break end
  end
  -- No count field: the count is the sum of the buckets (the collector adds them up).
  local base = name .. '|' .. label .. '|'
  redis.call('HINCRBY', K.metrics(), base .. 'b' .. index, 1)
  redis.call('HINCRBY', K.metrics(), base .. 'sum', ms)
end

local function live(field, by)
  redis.call('HINCRBY', K.live(), field, by)
end

-- An open counter counts as active for each service it serves (live 'a:<service>'), which
-- is what an ETA divides by; kept here on every change of state or services.
local function set_active(c, delta)
  for _, service in ipairs(split(c.svcs)) do
    redis.call('HINCRBY', K.live(), 'a:' .. service, delta)
  end
end

-- The counter's activity, for staff time: serving (ticket in hand), idle, paused, or none.
local function activity(c)
  if c.state == 'paused' then return 'paused' end
  if c.state ~= 'open' then return '' end
  if c.tk ~= nil and c.tk ~= '' then return 'serving' end
  return 'idle'
end

-- Book the time spent in the counter's current activity to its staff member; call before
-- every change of state or ticket, then save the counter with since = now.
local function account(c, now)
  local what = activity(c)
  if what == '' or c.staff == nil or c.staff == '' or c.since == 0 then return end
  local spent = now - c.since
  if spent <= 0 then return end
  inc('s_time|' .. c.staff .. '|' .. what, spent)
  if what == 'paused' then
    inc('s_pause|' .. c.staff .. '|' .. (c.reason or 'other'), spent)
    day_inc(now, 'st:' .. c.staff .. ':paused_ms', spent)
  end
end

local function save_counter(c, now)
  c.since = now
  redis.call('HSET', K.counter(c.id), 'state', c.state, 'staff', c.staff or '', 'tk', c.tk or '',
    'reason', c.reason or '', 'since', now, 'streak', c.streak)
end

local function ticket_view(t)
  return {id = t.id, number = t.number, service = t.service, status = t.status,
    priority = t.prio, channel = t.channel, counter = t.counter, staff = t.staff,
    arrived = tonumber(t.arrived), issued = tonumber(t.issued), appt = tonumber(t.appt),
    called = tonumber(t.called), started = tonumber(t.started), ended = tonumber(t.ended),
    recalls = tonumber(t.recalls), rating = tonumber(t.rating), from = t.from, to = t.to,
    note = t.note, target_counter = t.tc}
end

local function counter_view(c)
  return {id = c.id, state = c.state, staff = c.staff or '', ticket = c.tk or '',
    reason = c.reason or '', since = c.since, services = c.svcs or ''}
end

-- Append one event to the center's capped stream; every frame a display gets comes from here.
-- Every event carries the center's totals, and the waiting count of the services it touched
-- (one HMGET of the live hash for both).
local function emit(kind, now, fields, services)
  local names = {'waiting', 'called', 'serving'}
  for _, service in ipairs(services or {}) do names[#names + 1] = 'w:' .. service end
  local v = redis.call('HMGET', K.live(), unpack(names))
  fields.type, fields.at, fields.center = kind, now, CENTER
  fields.totals = {waiting = tonumber(v[1] or '0'), called = tonumber(v[2] or '0'),
    serving = tonumber(v[3] or '0')}
  if services then
    fields.waiting = {}
    for i, service in ipairs(services) do fields.waiting[service] = tonumber(v[3 + i] or '0') end
  end
  return redis.call('XADD', K.events(), 'MAXLEN', '~', META.maxlen, '*', 'd',
    cmsgpack.pack(fields))
end

-- Where a waiting ticket sits: a counter's own queue, priority, appointment or normal.
local function queue_for(t)
  if t.tc ~= nil and t.tc ~= '' then
    if t.prio ~= '' then return K.counter_queue_priority(t.tc), tonumber(t.arrived) end
    return K.counter_queue(t.tc), tonumber(t.arrived)
  end
  if t.prio ~= '' then return K.queue_priority(t.service), tonumber(t.arrived) end
  if tonumber(t.appt) > 0 then return K.queue_appointment(t.service), tonumber(t.appt) end
  return K.queue(t.service), tonumber(t.arrived)
end

-- Waiting totals: the center's, and per service for tickets in a service queue (not those
-- sent to one counter).
local function count_waiting(t, delta)
  live('waiting', delta)
  if t.tc == nil or t.tc == '' then live('w:' .. t.service, delta) end
end

local function enqueue(t)
  local key, score = queue_for(t)
  redis.call('ZADD', key, score, t.id)
  count_waiting(t, 1)
end

local function dequeue(t)
  local key = queue_for(t)
  redis.call('ZREM', key, t.id)
  count_waiting(t, -1)
end

-- A new ticket numbered per center, service and local day; the caller validated its inputs.
local function create_ticket(now, service, channel, prio, arrived, appt, status, extra)
  local day = local_day(now)
  local seq_key = K.seq(day)
  local seq = redis.call('HINCRBY', seq_key, service, 1)
  if seq == 1 then
    redis.call('EXPIRE', seq_key, 3 * 86400)
    touch_day(now)
  end
  local prefix = redis.call('HGET', K.meta(), 'svc:' .. service .. ':prefix')
  local number = string.format('%s%03d', prefix, seq)
  local t = {id = CENTER .. '-' .. day .. '-' .. number, number = number, service = service,
    status = status, prio = prio, channel = channel, arrived = arrived, issued = now,
    appt = appt, called = 0, started = 0, ended = 0, counter = '', staff = '', recalls = 0,
    rating = 0, from = '', to = '', note = '', tc = '', th = ''}
  for k, v in pairs(extra) do t[k] = v end
  local flat = {}
  for k, v in pairs(t) do flat[#flat + 1] = k flat[#flat + 1] = v end
  redis.call('HSET', K.ticket(t.id), unpack(flat))
  redis.call('EXPIRE', K.ticket(t.id), 3 * 86400)
  inc('issued|' .. service .. '|' .. channel .. '|' .. (prio ~= '' and prio or 'none'))
  day_inc(now, 'issued')
  return t
end

local function set_ticket(t, ...)
  redis.call('HSET', K.ticket(t.id), ...)
end

---------------------------------------------------------------- transitions shared by scripts

-- When a ticket's wait began: its arrival (a check-in for appointments), or, for a transferred
-- ticket, the transfer (its first wait was counted at its first call).
local function wait_start(t)
  if t.channel == 'transfer' then return tonumber(t.issued) end
  return tonumber(t.arrived)
end

-- waiting -> called at counter c (call next, call a chosen ticket).
local function do_call(t, c, now, streak)
  dequeue(t)
  account(c, now)
  c.tk, c.streak = t.id, streak
  save_counter(c, now)
  t.status, t.called, t.counter, t.staff, t.recalls = 'called', now, c.id, c.staff or '', 0
  set_ticket(t, 'status', 'called', 'called', now, 'counter', c.id, 'staff', t.staff,
    'recalls', 0)
  live('called', 1)
  local waited = now - wait_start(t)
  observe('wait', t.service, waited, WAIT_BOUNDS)
  inc('calls|' .. t.service)
  day_inc(now, 'called')
  day_inc(now, 'wait_ms', waited)
  return emit('called', now, {ticket = ticket_view(t), counter = counter_view(c)}, {t.service})
end

-- called -> no_show (marked by staff, or the recall past the limit).
local function do_no_show(t, c, now)
  account(c, now)
  c.tk = ''
  save_counter(c, now)
  t.status, t.ended = 'no_show', now
  set_ticket(t, 'status', 'no_show', 'ended', now)
  live('called', -1)
  inc('noshow|' .. t.service)
  if c.staff ~= nil and c.staff ~= '' then
    inc('s_noshow|' .. c.staff)
    day_inc(now, 'st:' .. c.staff .. ':noshow')
  end
  day_inc(now, 'no_show')
  return emit('no_show', now, {ticket = ticket_view(t), counter = counter_view(c)})
end

---------------------------------------------------------------- reads

-- Open counters that would call a ticket of this service (or the one counter it targets).
local function active_counters(service, target_counter)
  if target_counter ~= '' then
    return redis.call('HGET', K.counter(target_counter), 'state') == 'open' and 1 or 0
  end
  return tonumber(redis.call('HGET', K.live(), 'a:' .. service) or '0')
end

-- People before a waiting ticket (nil unless waiting). It approximates the routing order:
-- priority tickets, then due appointments, then earlier arrivals of the same service
-- (docs/rules.md lists what it leaves out).
local function people_ahead(t, now)
  if t.status ~= 'waiting' then return nil end
  local key = queue_for(t)
  local service = t.service
  -- The rank, not a count of earlier times: equal times are ordered by ticket id, as calls are.
  local ahead = redis.call('ZRANK', key, t.id)
  if t.tc ~= '' then
    if t.prio == '' then ahead = ahead + redis.call('ZCARD', K.counter_queue_priority(t.tc)) end
  elseif t.prio == '' then
    ahead = ahead + redis.call('ZCARD', K.queue_priority(service))
    if tonumber(t.appt) == 0 then
      ahead = ahead + redis.call('ZCOUNT', K.queue_appointment(service), '-inf',
        now + META.window_ms)
    end
  end
  return ahead
end

-- What an ETA needs for a service: counters, today's completions and the typical time.
local function service_load(service, target_counter, now)
  local day = redis.call('HMGET', K.day(local_day(now)), 'svc_ms:' .. service,
    'svc_n:' .. service)
  return {active = active_counters(service, target_counter or ''),
    svc_ms = tonumber(day[1] or '0'), svc_n = tonumber(day[2] or '0'),
    typical_s = tonumber(redis.call('HGET', K.meta(), 'svc:' .. service .. ':typical'))}
end
