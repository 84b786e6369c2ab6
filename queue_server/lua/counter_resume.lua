-- Resume a paused counter: ARGV[3] counter, [4] staff.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
if c.state ~= 'paused' then
  fail('counter-state', 'counter ' .. c.id .. ' is ' .. c.state .. ', not paused')
end
local now = now_ms()
account(c, now)
set_active(c, 1)
c.state, c.reason = 'open', ''
save_counter(c, now)
local event = emit('counter_resumed', now, {counter = counter_view(c)})
return finish({counter = counter_view(c), event = event})
