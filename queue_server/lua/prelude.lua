-- Shared by every script. scripts.py puts in front of this: P (the center's key prefix, set
-- by setup), the key functions K.* rendered from keys.py, the bucket bounds of
-- metric_layout.py and the record layouts of records.py (TF, CF, TOT, SQ, KQ, CLASS_MAX,
-- DAY_PAIR). ARGV[1] is the idempotency key ('' for none), ARGV[2] the request's fingerprint.
--
-- Rules of every script:
-- * validate everything first, write afterwards: Redis does not roll back a script that fails
--   halfway, so a refusal must come before the first write;
-- * cost: every value that crosses into redis.call costs, and a number costs more than a
--   string (Redis formats it with "%.17g"), so arguments are strings; records are packed once
--   and the same bytes are stored, appended to the stream and answered (records.py).
--
-- The same text runs as a Redis Function library (defined once, called with FCALL) and as
-- separate scripts (EVALSHA, on a Cluster): setup() binds the call's keys either way.

local IDEM, FP = '', ''
local NIL = '\192'          -- msgpack nil
local EVENT_HEAD = '\151'   -- msgpack array of 7: records.EVENT_FIELDS
local TICKET_TTL = '259200' -- a ticket is kept three days
local DAY_TTL = '3456000'   -- day totals forty days

local function setup()
  P = string.sub(KEYS[1], 1, -5)  -- KEYS[1] is the center's 'meta' key
  IDEM, FP = ARGV[1], ARGV[2]
end

local function center_id()
  return string.match(P, '{c:(.-)}')
end

local function fail(code, message)
  error({err = 'QMS ' .. code .. ' ' .. message})
end

local function int(n)
  return string.format('%d', n)
end

-- Staff time is booked in whole seconds (a counter's 'since' and 'held_since' too), so that the
-- collector's second-rounded clock never shows more than the scripts later book.
local function whole_second(ms)
  return ms - ms % 1000
end

-- The center's settings a script needs (one HMGET of the 'meta' hash): 'maxlen' and 'clock'
-- first, then the fields asked for. An unknown center has no meta and is refused first.
local function settings(...)
  local m = redis.call('HMGET', KEYS[1], 'maxlen', 'clock', ...)
  if not m[1] then fail('unknown-center', 'unknown center ' .. center_id()) end
  return m
end

-- Redis TIME in ms, plus the meta field 'clock' that only tests set (DESIGN.md §4).
local function now_ms(m)
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000) + (tonumber(m[2]) or 0)
end

-- Local calendar day (UTC+7, no daylight saving) as YYYYMMDD: civil-from-days arithmetic with
-- the % operator (a floor that costs no function call); rules/clock.py is the same in Python.
local function local_day(ms)
  local s = ms / 1000 + 25200
  local days = (s - s % 86400) / 86400
  local z = days + 719468
  local era = (z - z % 146097) / 146097
  local doe = z - era * 146097
  local yoe = doe - (doe - doe % 1460) / 1460 + (doe - doe % 36524) / 36524
    - (doe - doe % 146096) / 146096
  yoe = (yoe - yoe % 365) / 365
  local doy = doe - (365 * yoe + (yoe - yoe % 4) / 4 - (yoe - yoe % 100) / 100)
  local mp = (5 * doy + 2 - (5 * doy + 2) % 153) / 153
  local d = doy - (153 * mp + 2 - (153 * mp + 2) % 5) / 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%d', y * 10000 + m * 100 + d)
end

local function in_list(list, item)
  return string.find(',' .. list .. ',', ',' .. item .. ',', 1, true) ~= nil
end

local function split(list)
  local out = {}
  for item in string.gmatch(list, '[^,]+') do out[#out + 1] = item end
  return out
end

---------------------------------------------------------------- idempotency

-- A retried request with the same key answers what the first one answered.
local function replay()
  if IDEM == '' then return nil end
  local previous = redis.call('GET', K.idempotency(IDEM))
  if not previous then return nil end
  local cut = string.find(previous, '\n', 1, true)
  if string.sub(previous, 1, cut - 1) ~= FP then
    fail('idempotency-mismatch', 'idempotency key ' .. IDEM .. ' was used for a different request')
  end
  local reply = cmsgpack.unpack(string.sub(previous, cut + 1))
  -- An answer kept by the first layout (a map) cannot be given again in this one.
  if reply[1] == nil then
    fail('idempotency-mismatch', 'idempotency key ' .. IDEM .. ' belongs to an earlier version'
      .. ' of the server: use a new key')
  end
  return reply
end

local function finish(reply)
  if IDEM ~= '' then
    local ttl = redis.call('HGET', KEYS[1], 'idem_ttl')
    redis.call('SET', K.idempotency(IDEM), FP .. '\n' .. cmsgpack.pack(reply), 'EX', ttl)
  end
  return reply
end

---------------------------------------------------------------- records

-- Answers the record and its packed bytes.
local function load_ticket(id)
  local raw = redis.call('HGET', K.ticket(id), 'r')
  if not raw then fail('unknown-ticket', 'unknown ticket ' .. id) end
  return cmsgpack.unpack(raw), raw
end

-- Stores the record; answers the packed bytes, which the event and the answer embed as is.
local function save_ticket(t)
  local packed = cmsgpack.pack(t)
  redis.call('HSET', K.ticket(t[TF.id]), 'r', packed)
  return packed
end

-- Answers the record and its packed bytes (what an event embeds if the counter is unchanged).
local function load_counter(id)
  local raw = redis.call('GET', K.counter(id))
  if not raw then
    fail('unknown-counter', 'unknown counter ' .. id .. ' at center ' .. center_id())
  end
  return cmsgpack.unpack(raw), raw
end

local function save_counter(c)
  local packed = cmsgpack.pack(c)
  redis.call('SET', K.counter(c[CF.id]), packed)
  return packed
end

---------------------------------------------------------------- checks (before any write)

-- Answers the service's meta field s:<id>, "<prefix> <typical seconds>".
local function require_service(service)
  local info = redis.call('HGET', KEYS[1], 's:' .. service)
  if not info then
    fail('unknown-service', 'unknown service ' .. service .. ' at center ' .. center_id())
  end
  return info
end

local function typical_of(info)
  return string.sub(info, string.find(info, ' ', 1, true) + 1)
end

-- A citizen acts on a ticket only with its secret: the stored hash must match.
local function require_token(t, token_hash)
  if token_hash ~= '' and token_hash ~= redis.call('HGET', K.ticket(t[TF.id]), 'h') then
    fail('forbidden', 'the ticket token does not match ticket ' .. t[TF.number])
  end
end

-- A counter's staff check: '' acts as the system or a supervisor, anyone else must hold it.
local function require_holder(c, staff)
  if staff ~= '' and c[CF.staff] ~= staff then
    fail('counter-state', 'counter ' .. c[CF.id] .. ' is held by ' .. (c[CF.staff] ~= '' and
      c[CF.staff] or 'nobody') .. ', not by ' .. staff)
  end
end

local function require_ticket_status(t, allowed, action)
  if not in_list(allowed, t[TF.status]) then
    fail('illegal-transition', 'cannot ' .. action .. ' ticket ' .. t[TF.number] .. ' ('
      .. t[TF.id] .. '): it is ' .. t[TF.status] .. ', expected ' .. allowed)
  end
end

-- A counter that may call someone: open, and nothing in hand.
local function require_free(c)
  if c[CF.state] ~= 'open' then
    fail('counter-state', 'counter ' .. c[CF.id] .. ' is ' .. c[CF.state] .. ', not open')
  end
  if c[CF.ticket] ~= '' then
    fail('counter-state', 'counter ' .. c[CF.id] .. ' still has ticket ' .. c[CF.ticket]
      .. ' in hand: start and complete it, mark it no-show or transfer it first')
  end
end

-- Held-ticket check for counter actions (recall, start, complete, no-show).
local function held_ticket(c, allowed, action)
  if c[CF.ticket] == '' then
    fail('illegal-transition', 'cannot ' .. action .. ': counter ' .. c[CF.id]
      .. ' has no ticket in hand')
  end
  local t = load_ticket(c[CF.ticket])
  require_ticket_status(t, allowed, action)
  return t
end

---------------------------------------------------------------- counts (after validation)

local function inc(field, by)
  return redis.call('HINCRBY', K.metrics(), field, by)
end

local function day_inc(day, field, by)
  return redis.call('HINCRBY', K.day(day), field, by)
end

-- A histogram observation: its bucket and its sum (the count is the buckets' total).
local function observe(name, label, ms, bounds)
  local index = #bounds + 1
  for i = 1, #bounds do
    if ms <= bounds[i] * 1000 then index = i break end
  end
  local base = name .. '|' .. label .. '|'
  redis.call('HINCRBY', K.metrics(), base .. 'b' .. index, '1')
  redis.call('HINCRBY', K.metrics(), base .. 'sum', int(ms))
end

-- The center's totals (records.TOTALS): one HINCRBY moves them and answers all three.
local function totals(delta)
  return redis.call('HINCRBY', K.live(), 'tot', int(delta))
end

-- The counter's time in its state so far, booked to its staff member when the state ends;
-- the collector adds the span in progress (monitoring/collector.py).
local function book_state_time(c, now)
  local staff, spent = c[CF.staff], whole_second(now) - c[CF.since]
  if staff == '' or c[CF.since] == 0 or spent <= 0 then return end
  if c[CF.state] == 'open' then
    inc('s_time|' .. staff .. '|open', int(spent))
  elseif c[CF.state] == 'paused' then
    local reason = c[CF.reason] ~= '' and c[CF.reason] or 'other'
    inc('s_time|' .. staff .. '|paused', int(spent))
    inc('s_pause|' .. staff .. '|' .. reason, int(spent))
    day_inc(local_day(now), 'st:' .. staff .. ':paused_ms', int(spent))
  end
end

-- The ticket in hand leaves the counter: its span in hand is the staff member's serving time.
local function release_ticket(c, now)
  local spent = whole_second(now) - c[CF.held_since]
  if c[CF.staff] ~= '' and c[CF.held_since] > 0 and spent > 0 then
    inc('s_time|' .. c[CF.staff] .. '|serving', int(spent))
  end
  c[CF.ticket], c[CF.held_since] = '', 0
end

-- An open counter counts as active for each service it serves (records.SERVICE_QUEUE).
local function set_active(c, sign)
  for _, service in ipairs(c[CF.services]) do
    redis.call('HINCRBY', K.live(), 'w:' .. service, int(sign * SQ.active))
  end
end

---------------------------------------------------------------- queues

-- Where a waiting ticket sits: a counter's own queue, priority, appointment or normal; its
-- score; and the live field and unit that count it.
local function queue_for(t)
  local tc, prio = t[TF.target_counter], t[TF.priority]
  if tc ~= '' then
    if prio ~= '' then return K.counter_queue_priority(tc), t[TF.arrived], 'q:' .. tc, KQ.P end
    return K.counter_queue(tc), t[TF.arrived], 'q:' .. tc, KQ.N
  end
  local service = t[TF.service]
  if prio ~= '' then return K.queue_priority(service), t[TF.arrived], 'w:' .. service, SQ.P end
  if t[TF.appt] > 0 then
    return K.queue_appointment(service), t[TF.appt], 'w:' .. service, SQ.A
  end
  return K.queue(service), t[TF.arrived], 'w:' .. service, SQ.N
end

-- One more place in a queue counted by live field 'field' (unit: its class); answers the
-- packed counts. A class full to CLASS_MAX is refused, the increment taken back first, so a
-- refused request has changed nothing: call it before any other write.
local function take_place(field, unit)
  local counts = redis.call('HINCRBY', K.live(), field, int(unit))
  if math.floor(counts / unit) % (CLASS_MAX + 1) == 0 then
    redis.call('HINCRBY', K.live(), field, int(-unit))
    fail('invalid-input', 'the queue ' .. field .. ' is full (' .. CLASS_MAX .. ' waiting)')
  end
  return counts
end

-- Adds the ticket to its queue; answers the packed counts of its live field, and the field.
local function enqueue(t)
  local key, score, field, unit = queue_for(t)
  local counts = take_place(field, unit)
  redis.call('ZADD', key, int(score), t[TF.id])
  return counts, field
end

local function dequeue(t)
  local key, _, field, unit = queue_for(t)
  redis.call('ZREM', key, t[TF.id])
  return redis.call('HINCRBY', K.live(), field, int(-unit)), field
end

-- The 'waiting' element of an event: service ids and their packed counts.
local function waiting_of(...)
  return cmsgpack.pack({...})
end

-- The answer of an action that changed nothing: no event id, the counter as it is.
local function unchanged(now, packed_counter)
  return {'', EVENT_HEAD .. cmsgpack.pack('none', now) .. NIL .. packed_counter .. NIL .. NIL
    .. NIL}
end

---------------------------------------------------------------- events

-- Append one event to the center's capped stream (records.EVENT_FIELDS). Records come as
-- packed bytes (or nil); every frame a display gets comes from here. Answers {id, event}.
local function emit(m, kind, now, ticket, counter, tot, waiting, new_ticket)
  local event = EVENT_HEAD .. cmsgpack.pack(kind, now) .. (ticket or NIL) .. (counter or NIL)
    .. (tot and cmsgpack.pack(tot) or NIL) .. (waiting or NIL) .. (new_ticket or NIL)
  local id = redis.call('XADD', K.events(), 'MAXLEN', '~', m[1], '*', 'd', event)
  return {id, event}
end

-- A new ticket numbered per center, service and local day; the caller validated its inputs.
-- 'prefix_typical' is the meta field s:<service> ("<prefix> <typical seconds>").
local function create_ticket(now, day, service, prefix_typical, channel, prio, arrived, appt,
                             status, from, tc, note, token_hash)
  local seq_key = K.seq(day)
  local seq = redis.call('HINCRBY', seq_key, service, '1')
  if seq == 1 then
    redis.call('EXPIRE', seq_key, '259200')
    redis.call('EXPIRE', K.day(day), DAY_TTL)
  end
  local prefix = string.sub(prefix_typical, 1, string.find(prefix_typical, ' ', 1, true) - 1)
  local number = prefix .. string.format('%03d', seq)
  local id = center_id() .. '-' .. day .. '-' .. number
  local t = {id, number, service, status, prio, channel, '', '', arrived, now, appt, 0, 0, 0,
    0, 0, from, '', note, tc}
  local packed = cmsgpack.pack(t)
  local key = K.ticket(id)
  redis.call('HSET', key, 'r', packed, 'h', token_hash)
  redis.call('EXPIRE', key, TICKET_TTL)
  inc('issued|' .. service .. '|' .. channel .. '|' .. (prio ~= '' and prio or 'none'), '1')
  return t, packed
end

---------------------------------------------------------------- transitions shared by scripts

-- When a ticket's wait began: its arrival (a check-in for appointments), or, for a transferred
-- ticket, the transfer (its first wait was counted at its first call).
local function wait_start(t)
  if t[TF.channel] == 'transfer' then return t[TF.issued] end
  return t[TF.arrived]
end

-- waiting -> called at counter c (call next, call a chosen ticket). Answers the reply.
local function do_call(m, t, c, now, streak)
  local counts, field = dequeue(t)
  t[TF.status], t[TF.called], t[TF.counter], t[TF.staff], t[TF.recalls] =
    'called', now, c[CF.id], c[CF.staff], 0
  c[CF.ticket], c[CF.streak], c[CF.held_since] = t[TF.id], streak, whole_second(now)
  local tb, cb = save_ticket(t), save_counter(c)
  local waited = now - wait_start(t)
  observe('wait', t[TF.service], waited, WAIT_BOUNDS)
  day_inc(local_day(now), 'cw', int(1 + waited * DAY_PAIR))
  local tot = totals(TOT.called - TOT.waiting)
  local waiting = nil
  if string.sub(field, 1, 2) == 'w:' then waiting = waiting_of(t[TF.service], counts) end
  return emit(m, 'called', now, tb, cb, tot, waiting)
end

-- called -> no_show (marked by staff, or the recall past the limit).
local function do_no_show(m, t, c, now)
  release_ticket(c, now)
  t[TF.status], t[TF.ended] = 'no_show', now
  local tb, cb = save_ticket(t), save_counter(c)
  local service, staff = t[TF.service], c[CF.staff]
  inc('noshow|' .. service, '1')
  local day = local_day(now)
  if staff ~= '' then
    inc('s_noshow|' .. staff, '1')
    day_inc(day, 'st:' .. staff .. ':noshow', '1')
  end
  day_inc(day, 'no_show', '1')
  return emit(m, 'no_show', now, tb, cb, totals(-TOT.called))
end

---------------------------------------------------------------- reads

-- The service's packed live counts and today's 'count + ms' of its completions.
local function service_load(service, day)
  return redis.call('HGET', K.live(), 'w:' .. service) or '0',
    redis.call('HGET', K.day(day), 'sv:' .. service) or '0'
end

-- People before a waiting ticket (-1 unless waiting). It approximates the routing order:
-- priority tickets, then due appointments, then earlier arrivals of the same service
-- (docs/rules.md lists what it leaves out).
local function people_ahead(t, now, window_ms)
  if t[TF.status] ~= 'waiting' then return -1 end
  local key = queue_for(t)
  -- The rank, not a count of earlier times: equal times are ordered by ticket id, as calls are.
  local ahead = redis.call('ZRANK', key, t[TF.id])
  local tc, prio, service = t[TF.target_counter], t[TF.priority], t[TF.service]
  if tc ~= '' then
    if prio == '' then ahead = ahead + redis.call('ZCARD', K.counter_queue_priority(tc)) end
  elseif prio == '' then
    ahead = ahead + redis.call('ZCARD', K.queue_priority(service))
    if t[TF.appt] == 0 then
      ahead = ahead + redis.call('ZCOUNT', K.queue_appointment(service), '-inf',
        int(now + window_ms))
    end
  end
  return ahead
end
