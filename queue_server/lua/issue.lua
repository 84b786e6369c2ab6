-- Issue a ticket: ARGV[3] service, [4] channel, [5] priority category or '',
-- [6] appointment epoch ms or 0, [7] '1' to book (not yet arrived), [8] token hash.
-- Answers {event id, event, people ahead (-1 if booked), open counters serving the service,
-- today's 'count + ms' of its completions, its typical seconds, now}: what the kiosk prints.
local replayed = replay()
if replayed then return replayed end
local service, channel, prio = ARGV[3], ARGV[4], ARGV[5]
local appt, booked = tonumber(ARGV[6]), ARGV[7] == '1'
local m = settings('s:' .. service, 'p:' .. prio, 'window_ms')
if not m[3] then
  fail('unknown-service', 'unknown service ' .. service .. ' at center ' .. center_id())
end
if channel ~= 'kiosk' and channel ~= 'online' and channel ~= 'appointment' then
  fail('invalid-input', 'channel must be kiosk, online or appointment, got ' .. channel)
end
if prio ~= '' and not m[4] then
  fail('invalid-input', 'priority category must be one of '
    .. redis.call('HGET', KEYS[1], 'prios') .. ', got ' .. prio)
end
if appt == nil or appt < 0 then
  fail('invalid-input', 'appointment must be epoch milliseconds >= 0, got ' .. ARGV[6])
end
if booked and appt == 0 then fail('invalid-input', 'a booking needs an appointment time') end

local now = now_ms(m)
local day = local_day(now)
local reply, ahead, counts
if booked then
  local t, tb = create_ticket(now, day, service, m[3], channel, prio, now, appt, 'booked', '',
    '', '', ARGV[8])
  redis.call('ZADD', K.booked(), ARGV[6], t[TF.id])
  counts = redis.call('HGET', K.live(), 'w:' .. service) or '0'
  reply = emit(m, 'issued', now, tb, nil, nil, nil)
  ahead = -1
else
  -- Its place first (queue_for of what the ticket will be): a full queue refuses before any
  -- write.
  local key, score, field, unit = queue_for({[TF.target_counter] = '', [TF.priority] = prio,
    [TF.service] = service, [TF.appt] = appt, [TF.arrived] = now})
  counts = take_place(field, unit)
  local t, tb = create_ticket(now, day, service, m[3], channel, prio, now, appt, 'waiting', '',
    '', '', ARGV[8])
  redis.call('ZADD', key, int(score), t[TF.id])
  reply = emit(m, 'issued', now, tb, nil, totals(TOT.waiting), waiting_of(service, counts))
  -- The newest arrival of its queue: behind everyone in it, and a normal ticket also behind
  -- the priority tickets and the appointments due (as people_ahead counts them).
  ahead = math.floor(counts / unit) % (CLASS_MAX + 1) - 1
  if prio == '' then
    ahead = ahead + math.floor(counts / SQ.P) % (CLASS_MAX + 1)
    if appt == 0 and math.floor(counts / SQ.A) % (CLASS_MAX + 1) > 0 then
      ahead = ahead + redis.call('ZCOUNT', K.queue_appointment(service), '-inf',
        int(now + tonumber(m[5])))
    end
  end
end
reply[3], reply[4] = ahead, math.floor(counts / SQ.active)
reply[5] = redis.call('HGET', K.day(day), 'sv:' .. service) or '0'
reply[6], reply[7] = typical_of(m[3]), now
return finish(reply)
