-- Pause an open counter with a reason. KEYS[1] the center's meta. ARGV[5] counter,
-- [6] staff, [7] reason id.
local replayed = replay()
if replayed then return replayed end
local reason = ARGV[7]
local m, now = begin('r:' .. reason)
local c, before = load_counter(ARGV[5])
require_holder(c, ARGV[6])
if not m[FIRST_SETTING] then
  fail('invalid-input', 'pause_reason_invalid',
    {pause_reason = reason, allowed = redis.call('HGET', KEYS[1], 'reasons')})
end
require_free(c)
count_active(c, -1)
c[CF.state], c[CF.reason], c[CF.since] = 'paused', reason, whole_second(now)
return finish(emit(m, 'counter_paused', now, nil, save_counter(c), before))
