-- Close a counter and release its staff member: ARGV[3] counter, [4] staff.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
if c[CF.state] == 'closed' then
  fail('counter-state', 'counter ' .. c[CF.id] .. ' is already closed')
end
if c[CF.ticket] ~= '' then
  fail('counter-state', 'counter ' .. c[CF.id] .. ' has ticket ' .. c[CF.ticket]
    .. ' in hand: finish it first')
end
local now = now_ms(m)
book_state_time(c, now)
if c[CF.state] == 'open' then set_active(c, -1) end
c[CF.state], c[CF.staff], c[CF.reason], c[CF.streak], c[CF.since] =
  'closed', '', '', 0, whole_second(now)
return finish(emit(m, 'counter_closed', now, nil, save_counter(c)))
