-- Complete the ticket in hand. KEYS[1] the center's meta. ARGV[5] counter, [6] staff.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, before = load_counter(ARGV[5])
require_holder(c, ARGV[6])
local t = held_ticket(c, 'complete')
release(c)
t[TF.status], t[TF.ended] = TO.complete, now
local live = live_get(TOTALS)
live.serving = live.serving - 1
live_set(live, {'serving'})
return finish(emit(m, 'completed', now, save_ticket(t), save_counter(c), before, nil,
  totals_of(live)))
