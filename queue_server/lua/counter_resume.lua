-- Resume a paused counter. KEYS[1] the center's meta. ARGV[5] counter, [6] staff.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, before = load_counter(ARGV[5])
require_holder(c, ARGV[6])
if c[CF.state] ~= 'paused' then
  fail('counter-state', 'counter_not_paused', {counter = c[CF.id], state = c[CF.state]})
end
count_active(c, 1)
c[CF.state], c[CF.reason], c[CF.since] = 'open', '', whole_second(now)
return finish(emit(m, 'counter_resumed', now, nil, save_counter(c), before))
