-- Cancel a booked or waiting ticket; a booking gives its slot back.
-- KEYS[1] the center's meta. ARGV[5] ticket id, [6] the citizen's token hash ('' when staff
-- or a supervisor cancels).
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local t = load_ticket(ARGV[5])
require_token(t, ARGV[6])
require_status(t, 'cancel')
local totals, waiting = nil, nil
if t[TF.status] == 'booked' then
  redis.call('ZREM', K.booked(), t[TF.id])
  local slot = t[TF.service] .. '|' .. int(t[TF.appt])
  local day = local_day(t[TF.appt])
  if tonumber(redis.call('HGET', K.slots(day), slot) or '0') > 0 then
    redis.call('HINCRBY', K.slots(day), slot, '-1')
  end
else
  local class, service = t[TF.queue], t[TF.service]
  local live = live_get(service_fields(service, class_field(t), 'waiting', 'called',
    'serving'))
  local field = dequeue(t, live)
  live_set(live, {field, 'waiting'})
  totals = totals_of(live)
  if class ~= 'K' and class ~= 'KP' then waiting = {service, service_waiting(live, service)} end
end
t[TF.status], t[TF.ended] = TO.cancel, now
return finish(emit(m, 'cancelled', now, save_ticket(t), nil, nil, nil, totals, waiting))
