-- Issue a walk-in ticket (kiosk, or online "now").
-- KEYS[1] the center's meta. ARGV[5] service, [6] channel (kiosk, online), [7] priority
-- category or '', [8] hash of the ticket's secret, [9] salted hash of the citizen's id or ''.
-- Answers {event id, event, people ahead, open counters serving the service, its completions
-- today (count, ms; projected), its typical seconds, now}: what the kiosk prints.
local replayed = replay()
if replayed then return replayed end
local service, channel, prio = ARGV[5], ARGV[6], ARGV[7]
local m, now = begin('s:' .. service, 'p:' .. prio, 'window_ms', 'keep_ms')
local info = m[FIRST_SETTING]
if not info then
  fail('unknown-service', 'service_unknown', {service = service, center = center_id()})
end
if channel ~= 'kiosk' and channel ~= 'online' then
  fail('invalid-input', 'channel_invalid', {channel = channel, allowed = 'kiosk,online'})
end
if prio ~= '' and not m[FIRST_SETTING + 1] then
  fail('invalid-input', 'priority_invalid',
    {priority = prio, allowed = redis.call('HGET', KEYS[1], 'prios')})
end

local day, ends, keep = local_day(now), day_end(now), tonumber(m[FIRST_SETTING + 3])
local t = number_ticket(day, ends, service, info, keep)
t[TF.status], t[TF.priority], t[TF.channel], t[TF.arrived], t[TF.issued] =
  'waiting', prio, channel, now, now
t[TF.queue] = classify(t, 0)
local live = live_get(service_fields(service, 'a:' .. service, 'waiting', 'called', 'serving'))
local field = enqueue(t, live)
live_set(live, {field, 'waiting'})
local reply = emit(m, 'issued', now, store_new_ticket(t, ends, keep, ARGV[8], ARGV[9]), nil,
  nil, nil, totals_of(live), {service, service_waiting(live, service)},
  {citizen = ARGV[9], token = ARGV[8]})
-- The newest arrival of its queue: behind everyone in it, and a normal ticket also behind
-- the priority tickets and the appointments due (as ticket_read.lua counts them).
local ahead = live[field] - 1
if prio == '' then
  ahead = ahead + live['P:' .. service]
  if live['A:' .. service] > 0 then
    ahead = ahead + redis.call('ZCOUNT', K.queue_appointment(service), '-inf',
      int(now + tonumber(m[FIRST_SETTING + 2])))
  end
end
local done = redis.call('HMGET', K.day(day), DAY_SERVED .. service, DAY_SERVED_MS .. service)
reply[3], reply[4], reply[5] = ahead, live['a:' .. service], {done[1] or '0', done[2] or '0'}
reply[6], reply[7] = typical_of(info), now
return finish(reply)
