-- Mark the called ticket in hand as no-show. KEYS[1] the center's meta. ARGV[5] counter,
-- [6] staff.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, before = load_counter(ARGV[5])
require_holder(c, ARGV[6])
local t = held_ticket(c, 'no_show')
return finish(do_no_show(m, t, c, before, now))
