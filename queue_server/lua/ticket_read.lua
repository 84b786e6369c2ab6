-- Read one ticket with what its estimated wait needs: ARGV[3] ticket id. Read-only.
-- "ahead" approximates the routing order: priority tickets, then due appointments, then
-- earlier arrivals of the same service (docs/rules.md).
load_meta()
local t = load_ticket(ARGV[3])
local now = now_ms()
local out = {ticket = ticket_view(t), now = now, load = service_load(t.service, t.tc, now),
  th = t.th}
if t.status == 'waiting' then
  local key, score = queue_for(t)
  local service, before = t.service, '(' .. score
  local ahead = redis.call('ZCOUNT', key, '-inf', before)
  if t.tc ~= '' then
    if t.prio == '' then ahead = ahead + redis.call('ZCARD', K.counter_queue_priority(t.tc)) end
  elseif t.prio == '' then
    ahead = ahead + redis.call('ZCARD', K.queue_priority(service))
    if tonumber(t.appt) == 0 then
      ahead = ahead + redis.call('ZCOUNT', K.queue_appointment(service), '-inf',
        now + META.window_ms)
    end
  end
  out.ahead = ahead
end
return cmsgpack.pack(out)
