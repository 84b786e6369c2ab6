-- An appointment holder arrives: booked -> waiting in the appointment queue. ARGV[3] ticket id.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local t = load_ticket(ARGV[3])
require_ticket_status(t, 'booked', 'check in')
local now = now_ms(m)
t[TF.status], t[TF.arrived] = 'waiting', now
local counts = enqueue(t)  -- first: a full queue refuses before any write
redis.call('ZREM', K.booked(), t[TF.id])
local tb = save_ticket(t)
return finish(emit(m, 'checked_in', now, tb, nil, totals(TOT.waiting),
  waiting_of(t[TF.service], counts)))
