-- Close a counter and release its staff member: ARGV[3] counter, [4] staff.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
if c.state == 'closed' then
  fail('counter-state', 'counter ' .. c.id .. ' is already closed')
end
if c.tk ~= '' then
  fail('counter-state', 'counter ' .. c.id .. ' has ticket ' .. c.tk .. ' in hand: finish it first')
end
local now = now_ms()
account(c, now)
if c.state == 'open' then set_active(c, -1) end
c.state, c.staff, c.reason, c.streak = 'closed', '', '', 0
save_counter(c, now)
local event = emit('counter_closed', now, {counter = counter_view(c)})
return finish({counter = counter_view(c), event = event})
