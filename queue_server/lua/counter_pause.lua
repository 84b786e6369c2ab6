-- Pause an open counter with a reason: ARGV[3] counter, [4] staff, [5] reason id.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local reason = ARGV[5]
if not in_list(META.reasons, reason) then
  fail('invalid-input', 'pause reason must be one of ' .. META.reasons .. ', got ' .. reason)
end
if c.state ~= 'open' then
  fail('counter-state', 'counter ' .. c.id .. ' is ' .. c.state .. ', only an open counter pauses')
end
if c.tk ~= '' then
  fail('counter-state', 'counter ' .. c.id .. ' has ticket ' .. c.tk .. ' in hand: finish it first')
end
local now = now_ms()
account(c, now)
set_active(c, -1)
c.state, c.reason = 'paused', reason
save_counter(c, now)
local event = emit('counter_paused', now, {counter = counter_view(c)})
return finish({counter = counter_view(c), event = event})
