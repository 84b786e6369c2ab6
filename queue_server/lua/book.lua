-- Book an appointment in a slot. The server checked that the slot is one of the center's
-- slots for the service on a working day within the booking horizon (rules/booking.py);
-- this script checks what depends on state: the slot's room and the citizen's other bookings.
-- KEYS[1] the center's meta. ARGV[5] service, [6] slot start (ms), [7] slot end (ms),
-- [8] bookings the slot takes, [9] priority category or '', [10] hash of the ticket's secret,
-- [11] salted hash of the citizen's id or ''.
-- Answers {event id, event, slot bookings after this one}. The ticket is numbered in the
-- series of the appointment's day, so no walk-in of that day shares its number.
local replayed = replay()
if replayed then return replayed end
local service, start, finish_at = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local capacity, prio, citizen = tonumber(ARGV[8]), ARGV[9], ARGV[11]
local m, now = begin('s:' .. service, 'p:' .. prio, 'keep_ms')
local info = m[FIRST_SETTING]
if not info then
  fail('unknown-service', 'service_unknown', {service = service, center = center_id()})
end
if prio ~= '' and not m[FIRST_SETTING + 1] then
  fail('invalid-input', 'priority_invalid',
    {priority = prio, allowed = redis.call('HGET', KEYS[1], 'prios')})
end
if start == nil or finish_at == nil or finish_at <= start or capacity == nil then
  fail('invalid-input', 'slot_invalid', {slot = ARGV[6]})
end
if start <= now then fail('invalid-input', 'slot_past', {slot = ARGV[6]}) end
local day, ends, keep = local_day(start), day_end(start), tonumber(m[FIRST_SETTING + 2])
local slot_field = service .. '|' .. ARGV[6]
local taken = tonumber(redis.call('HGET', K.slots(day), slot_field) or '0')
if taken >= capacity then
  fail('conflict', 'slot_full', {service = service, slot = ARGV[6], capacity = capacity})
end
if citizen ~= '' then
  -- Another live booking of this citizen that overlaps [start, end): members are
  -- '<ticket>|<end>' scored by their start.
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', K.citizen(citizen), '-inf',
      '(' .. ARGV[7])) do
    local cut = string.find(member, '|', 1, true)
    local other, other_end = string.sub(member, 1, cut - 1), tonumber(string.sub(member, cut + 1))
    if other_end > start then
      local raw = redis.call('HGET', K.ticket(other), 'r')
      local o = raw and cmsgpack.unpack(raw)
      if o and (o[TF.status] == 'booked' or o[TF.status] == 'waiting') then
        fail('conflict', 'booking_overlap', {ticket = other, number = o[TF.number],
          slot = o[TF.appt]})
      end
    end
  end
end

local t = number_ticket(day, ends, service, info, keep)
t[TF.status], t[TF.priority], t[TF.channel], t[TF.issued], t[TF.appt] =
  'booked', prio, 'appointment', now, start
redis.call('ZADD', K.booked(), ARGV[6], t[TF.id])
redis.call('HINCRBY', K.slots(day), slot_field, '1')
if taken == 0 then redis.call('PEXPIREAT', K.slots(day), int(ends + keep)) end
if citizen ~= '' then
  redis.call('ZADD', K.citizen(citizen), ARGV[6], t[TF.id] .. '|' .. ARGV[7])
  redis.call('PEXPIREAT', K.citizen(citizen), int(ends + keep))
end
local reply = emit(m, 'issued', now, store_new_ticket(t, ends, keep, ARGV[10], citizen), nil,
  nil, nil, nil, nil, {citizen = citizen, token = ARGV[10], slot_end = finish_at})
reply[3] = taken + 1
return finish(reply)
