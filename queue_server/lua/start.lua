-- Start serving the ticket in hand. KEYS[1] the center's meta. ARGV[5] counter, [6] staff.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, packed = load_counter(ARGV[5])
require_holder(c, ARGV[6])
local t = held_ticket(c, 'start')
t[TF.status], t[TF.started] = TO.start, now
local live = live_get(TOTALS)
live.called, live.serving = live.called - 1, live.serving + 1
live_set(live, {'called', 'serving'})
return finish(emit(m, 'started', now, save_ticket(t), packed, nil, nil, totals_of(live)))
