-- An appointment holder arrives: booked -> waiting in the appointment queue. ARGV[3] ticket id.
local replayed = begin()
if replayed then return replayed end
local t = load_ticket(ARGV[3])
require_ticket_status(t, 'booked', 'check in')
local now = now_ms()
redis.call('ZREM', K.booked(), t.id)
t.status, t.arrived = 'waiting', now
set_ticket(t, 'status', 'waiting', 'arrived', now)
enqueue(t)
local event = emit('checked_in', now, {ticket = ticket_view(t)}, {t.service})
return finish({ticket = ticket_view(t), event = event})
