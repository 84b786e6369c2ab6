-- Mark the called ticket in hand as no-show: ARGV[3] counter, [4] staff.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'called', 'mark no-show')
local event = do_no_show(t, c, now_ms())
return finish({ticket = ticket_view(t), counter = counter_view(c), event = event})
