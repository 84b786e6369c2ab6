-- Start serving the ticket in hand: ARGV[3] counter, [4] staff.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'called', 'start')
local now = now_ms()
t.status, t.started = 'serving', now
set_ticket(t, 'status', 'serving', 'started', now)
live('called', -1)
live('serving', 1)
local event = emit('started', now, {ticket = ticket_view(t), counter = counter_view(c)})
return finish({ticket = ticket_view(t), counter = counter_view(c), event = event})
