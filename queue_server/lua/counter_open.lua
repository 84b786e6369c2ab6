-- A staff member takes a counter: ARGV[3] counter, [4] staff, [5] '1' to take it over from
-- someone else (a supervisor's decision). Taking one's own open counter again changes nothing.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
local staff, force = ARGV[4], ARGV[5] == '1'
if staff == '' then fail('invalid-input', 'a counter is opened by a named staff member') end
if c.state ~= 'closed' and c.staff == staff then
  return finish({counter = counter_view(c)})
end
if c.state ~= 'closed' and not force then
  fail('counter-state', 'counter ' .. c.id .. ' is taken by ' .. c.staff
    .. ': a supervisor must hand it over')
end
local now = now_ms()
account(c, now)
if c.state ~= 'open' then set_active(c, 1) end
touch_day(now)
c.state, c.staff, c.reason = 'open', staff, ''
save_counter(c, now)
local event = emit('counter_opened', now, {counter = counter_view(c)})
return finish({counter = counter_view(c), event = event})
