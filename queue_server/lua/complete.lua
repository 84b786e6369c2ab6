-- Complete the ticket in hand: ARGV[3] counter, [4] staff.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'serving', 'complete')
local now = now_ms()
account(c, now)
c.tk = ''
save_counter(c, now)
t.status, t.ended = 'done', now
set_ticket(t, 'status', 'done', 'ended', now)
live('serving', -1)
local served = now - tonumber(t.started)
observe('svc', t.service, served, SERVICE_BOUNDS)
inc('served|' .. t.service)
day_inc(now, 'served')
day_inc(now, 'svc_ms:' .. t.service, served)
day_inc(now, 'svc_n:' .. t.service)
if t.staff ~= '' then
  inc('s_served|' .. t.staff)
  observe('s_svc', t.staff, served, SERVICE_BOUNDS)
  local staff = 'st:' .. t.staff .. ':'
  day_inc(now, staff .. 'served')
  day_inc(now, staff .. 'svc_ms', served)
  day_inc(now, staff .. 'wait_ms', tonumber(t.called) - wait_start(t))
end
local event = emit('completed', now, {ticket = ticket_view(t), counter = counter_view(c)})
return finish({ticket = ticket_view(t), counter = counter_view(c), event = event})
