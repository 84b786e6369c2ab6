-- Tickets and counters: loaded with their packed bytes (what an unchanged record embeds in an
-- event as it is), saved packed once (the same bytes go to Redis, the stream and the answer).

local function load_ticket(id)
  local raw = redis.call('HGET', K.ticket(id), 'r')
  if not raw then fail('unknown-ticket', 'ticket_unknown', {ticket = id}) end
  return cmsgpack.unpack(raw), raw
end

local function save_ticket(t)
  local packed = cmsgpack.pack(t)
  redis.call('HSET', K.ticket(t[TF.id]), 'r', packed)
  return packed
end

local function load_counter(id)
  local raw = redis.call('GET', K.counter(id))
  if not raw then
    fail('unknown-counter', 'counter_unknown', {counter = id, center = center_id()})
  end
  return cmsgpack.unpack(raw), raw
end

local function save_counter(c)
  local packed = cmsgpack.pack(c)
  redis.call('SET', K.counter(c[CF.id]), packed)
  return packed
end

-- A new ticket of 'service' numbered in the series of 'day' (its local day: today for a
-- walk-in, the appointment's day for a booking, so no two tickets of a center and day share a
-- number); 'ends' is when that day ends (ms). 'info' is the meta field s:<service>,
-- "<prefix> <typical seconds> <slot ms>". Answers the record, to be filled and stored with
-- store_new_ticket.
local function number_ticket(day, ends, service, info, keep_ms)
  local seq_key = K.seq(day)
  local seq = redis.call('HINCRBY', seq_key, service, '1')
  if seq == 1 then redis.call('PEXPIREAT', seq_key, int(ends + keep_ms)) end
  local t = blank_ticket()
  t[TF.number] = string.sub(info, 1, string.find(info, ' ', 1, true) - 1)
    .. string.format('%03d', seq)
  t[TF.id] = center_id() .. '-' .. day .. '-' .. t[TF.number]
  t[TF.service] = service
  return t
end

-- The ticket's hash: its record, the hash of its secret, the salted hash of the citizen's id.
-- It expires 'keep_ms' after its day ends: by then the day close has ended it and the
-- archive holds it (no queue entry outlives it: the close empties every queue).
local function store_new_ticket(t, ends, keep_ms, token_hash, citizen_hash)
  local packed = cmsgpack.pack(t)
  local key = K.ticket(t[TF.id])
  redis.call('HSET', key, 'r', packed, 'h', token_hash, 'c', citizen_hash)
  redis.call('PEXPIREAT', key, int(ends + keep_ms))
  return packed
end

local function service_info_field(info, n)
  local i = 0
  for part in string.gmatch(info, '[^ ]+') do
    i = i + 1
    if i == n then return part end
  end
  return nil
end

local function typical_of(info) return service_info_field(info, 2) end
