-- An appointment holder arrives: booked -> waiting. On time (at most 'late_ms' after the
-- slot) the ticket waits in the appointment queue by its slot; later it waits as a walk-in.
-- KEYS[1] the center's meta. ARGV[5] ticket id.
local replayed = replay()
if replayed then return replayed end
local m, now = begin('late_ms')
local t = load_ticket(ARGV[5])
require_status(t, 'check_in')
local day = local_day(now)
if local_day(t[TF.appt]) ~= day then
  fail('illegal-transition', 'check_in_other_day',
    {number = t[TF.number], day = local_day(t[TF.appt]), today = day})
end
t[TF.status], t[TF.arrived] = TO.check_in, now
t[TF.queue] = classify(t, tonumber(m[FIRST_SETTING]))
local service = t[TF.service]
local live = live_get(service_fields(service, 'waiting', 'called', 'serving'))
local field = enqueue(t, live)
live_set(live, {field, 'waiting'})
redis.call('ZREM', K.booked(), t[TF.id])
return finish(emit(m, 'checked_in', now, save_ticket(t), nil, nil, nil, totals_of(live),
  {service, service_waiting(live, service)}))
