-- Issue a ticket: ARGV[3] service, [4] channel, [5] priority category or '',
-- [6] appointment epoch ms or 0, [7] '1' to book (not yet arrived), [8] token hash.
local replayed = begin()
if replayed then return replayed end
local service, channel, prio = ARGV[3], ARGV[4], ARGV[5]
local appt, booked, token_hash = tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8]
require_service(service)
if not in_list('kiosk,online,appointment', channel) then
  fail('invalid-input', 'channel must be kiosk, online or appointment, got ' .. channel)
end
if prio ~= '' and not in_list(META.prios, prio) then
  fail('invalid-input', 'priority category must be one of ' .. META.prios .. ', got ' .. prio)
end
if appt == nil or appt < 0 then
  fail('invalid-input', 'appointment must be epoch milliseconds >= 0, got ' .. ARGV[6])
end
if booked and appt == 0 then fail('invalid-input', 'a booking needs an appointment time') end

local now = now_ms()
local t = create_ticket(now, service, channel, prio, now, appt, booked and 'booked' or 'waiting',
  {th = token_hash})
if booked then redis.call('ZADD', K.booked(), appt, t.id) else enqueue(t) end
local view = ticket_view(t)
local event = emit('issued', now, {ticket = view}, {service})
-- The kiosk prints the estimated wait: answer it here rather than in a second round trip.
return finish({ticket = view, event = event, ahead = people_ahead(t, now),
  load = service_load(service, '', now)})
