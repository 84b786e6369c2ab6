-- Pause an open counter with a reason: ARGV[3] counter, [4] staff, [5] reason id.
local replayed = replay()
if replayed then return replayed end
local reason = ARGV[5]
local m = settings('r:' .. reason)
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
if not m[3] then
  fail('invalid-input', 'pause reason must be one of ' .. redis.call('HGET', KEYS[1], 'reasons')
    .. ', got ' .. reason)
end
if c[CF.state] ~= 'open' then
  fail('counter-state', 'counter ' .. c[CF.id] .. ' is ' .. c[CF.state]
    .. ', only an open counter pauses')
end
if c[CF.ticket] ~= '' then
  fail('counter-state', 'counter ' .. c[CF.id] .. ' has ticket ' .. c[CF.ticket]
    .. ' in hand: finish it first')
end
local now = now_ms(m)
book_state_time(c, now)
set_active(c, -1)
c[CF.state], c[CF.reason], c[CF.since] = 'paused', reason, whole_second(now)
return finish(emit(m, 'counter_paused', now, nil, save_counter(c)))
