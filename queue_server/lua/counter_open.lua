-- A staff member takes a counter; '1' in ARGV[7] takes it over from someone else (a
-- supervisor's decision). Taking one's own open counter again changes nothing.
-- KEYS[1] the center's meta. ARGV[5] counter, [6] staff, [7] '1' to take over.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, before = load_counter(ARGV[5])
local staff, force = ARGV[6], ARGV[7] == '1'
if staff == '' then fail('invalid-input', 'staff_required', {counter = c[CF.id]}) end
if c[CF.state] ~= 'closed' and c[CF.staff] == staff then
  return finish(unchanged(now, before))
end
if c[CF.state] ~= 'closed' and not force then
  fail('counter-state', 'counter_taken', {counter = c[CF.id], holder = c[CF.staff]})
end
-- A hand-over with a ticket in hand: the new holder's time with it starts now.
if c[CF.ticket] ~= '' then c[CF.held_since] = whole_second(now) end
if c[CF.state] ~= 'open' then count_active(c, 1) end
c[CF.state], c[CF.staff], c[CF.reason], c[CF.since] = 'open', staff, '', whole_second(now)
return finish(emit(m, 'counter_opened', now, nil, save_counter(c), before))
