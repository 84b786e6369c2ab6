-- Cancel a booked or waiting ticket: ARGV[3] ticket id, [4] the citizen's token hash ('' when
-- staff or a supervisor cancels).
local replayed = replay()
if replayed then return replayed end
local m = settings()
local t = load_ticket(ARGV[3])
require_token(t, ARGV[4])
require_ticket_status(t, 'booked,waiting', 'cancel')
local now = now_ms(m)
local tot, waiting = nil, nil
if t[TF.status] == 'booked' then
  redis.call('ZREM', K.booked(), t[TF.id])
else
  local counts, field = dequeue(t)
  tot = totals(-TOT.waiting)
  if string.sub(field, 1, 2) == 'w:' then waiting = waiting_of(t[TF.service], counts) end
end
t[TF.status], t[TF.ended] = 'cancelled', now
local tb = save_ticket(t)
inc('cancels|' .. t[TF.service], '1')
return finish(emit(m, 'cancelled', now, tb, nil, tot, waiting))
