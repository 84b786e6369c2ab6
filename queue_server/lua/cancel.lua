-- Cancel a booked or waiting ticket: ARGV[3] ticket id, [4] the citizen's token hash ('' when
-- staff or a supervisor cancels).
local replayed = begin()
if replayed then return replayed end
local t = load_ticket(ARGV[3])
require_token(t, ARGV[4])
require_ticket_status(t, 'booked,waiting', 'cancel')
local now = now_ms()
if t.status == 'booked' then redis.call('ZREM', K.booked(), t.id) else dequeue(t) end
t.status, t.ended = 'cancelled', now
set_ticket(t, 'status', 'cancelled', 'ended', now)
inc('cancels|' .. t.service)
local event = emit('cancelled', now, {ticket = ticket_view(t)}, {t.service})
return finish({ticket = ticket_view(t), event = event})
