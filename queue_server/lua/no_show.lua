-- Mark the called ticket in hand as no-show: ARGV[3] counter, [4] staff.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'called', 'mark no-show')
return finish(do_no_show(m, t, c, now_ms(m)))
