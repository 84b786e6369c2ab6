-- A staff member takes a counter: ARGV[3] counter, [4] staff, [5] '1' to take it over from
-- someone else (a supervisor's decision). Taking one's own open counter again changes nothing.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c, packed = load_counter(ARGV[3])
local staff, force = ARGV[4], ARGV[5] == '1'
if staff == '' then fail('invalid-input', 'a counter is opened by a named staff member') end
if c[CF.state] ~= 'closed' and c[CF.staff] == staff then
  return finish(unchanged(0, packed))
end
if c[CF.state] ~= 'closed' and not force then
  fail('counter-state', 'counter ' .. c[CF.id] .. ' is taken by ' .. c[CF.staff]
    .. ': a supervisor must hand it over')
end
local now = now_ms(m)
book_state_time(c, now)
local in_hand = c[CF.ticket]
if in_hand ~= '' then
  -- A hand-over with a ticket in hand: the old holder's time with it ends here.
  release_ticket(c, now)
  c[CF.ticket], c[CF.held_since] = in_hand, whole_second(now)
end
if c[CF.state] ~= 'open' then set_active(c, 1) end
redis.call('EXPIRE', K.day(local_day(now)), DAY_TTL)
c[CF.state], c[CF.staff], c[CF.reason], c[CF.since] = 'open', staff, '', whole_second(now)
return finish(emit(m, 'counter_opened', now, nil, save_counter(c)))
