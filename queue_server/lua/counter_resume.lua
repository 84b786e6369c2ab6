-- Resume a paused counter: ARGV[3] counter, [4] staff.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
if c[CF.state] ~= 'paused' then
  fail('counter-state', 'counter ' .. c[CF.id] .. ' is ' .. c[CF.state] .. ', not paused')
end
local now = now_ms(m)
book_state_time(c, now)
set_active(c, 1)
c[CF.state], c[CF.reason], c[CF.since] = 'open', '', whole_second(now)
return finish(emit(m, 'counter_resumed', now, nil, save_counter(c)))
