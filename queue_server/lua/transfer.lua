-- Transfer a ticket to another service and/or a counter, keeping its original arrival:
-- ARGV[3] ticket id ('' = the one in hand at the acting counter), [4] acting counter ('' for a
-- supervisor moving a waiting ticket), [5] staff, [6] target service ('' = same),
-- [7] target counter ('' = any), [8] note.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local ticket_id = ARGV[3]
if ticket_id == '' then
  local holder = load_counter(ARGV[4])
  if holder[CF.ticket] == '' then
    fail('illegal-transition', 'cannot transfer: counter ' .. holder[CF.id]
      .. ' has no ticket in hand')
  end
  ticket_id = holder[CF.ticket]
end
local t = load_ticket(ticket_id)
require_ticket_status(t, 'waiting,called,serving', 'transfer')
local acting, staff, to_counter, note = ARGV[4], ARGV[5], ARGV[7], ARGV[8]
local to_service = ARGV[6] ~= '' and ARGV[6] or t[TF.service]
local c = nil
if t[TF.status] ~= 'waiting' then
  c = load_counter(acting ~= '' and acting or t[TF.counter])
  require_holder(c, staff)
  if c[CF.ticket] ~= t[TF.id] then
    fail('counter-state', 'ticket ' .. t[TF.number] .. ' is not in hand at counter ' .. c[CF.id])
  end
end
local info = require_service(to_service)
if to_counter ~= '' then load_counter(to_counter) end
if to_service == t[TF.service] and to_counter == '' then
  fail('invalid-input', 'a transfer needs another service or a target counter')
end

local now = now_ms(m)
local day = local_day(now)
-- The new ticket's place first (queue_for of what it will be): a full queue refuses before
-- any write.
local new_key, new_score, new_field, new_unit = queue_for({[TF.target_counter] = to_counter,
  [TF.priority] = t[TF.priority], [TF.service] = to_service, [TF.appt] = 0,
  [TF.arrived] = t[TF.arrived]})
local new_counts = take_place(new_field, new_unit)
local was, waiting = t[TF.status], {}
if was == 'waiting' then
  local counts, field = dequeue(t)
  if string.sub(field, 1, 2) == 'w:' and field ~= new_field then
    waiting[#waiting + 1], waiting[#waiting + 2] = t[TF.service], counts
  end
end
local cb = nil
if c ~= nil then
  release_ticket(c, now)
  cb = save_counter(c)
end
local new, nb = create_ticket(now, day, to_service, info, 'transfer', t[TF.priority],
  t[TF.arrived], 0, 'waiting', t[TF.id], to_counter, note,
  redis.call('HGET', K.ticket(t[TF.id]), 'h') or '')
redis.call('ZADD', new_key, int(new_score), new[TF.id])
if to_counter == '' then
  waiting[#waiting + 1], waiting[#waiting + 2] = to_service, new_counts
end
t[TF.status], t[TF.to], t[TF.ended], t[TF.note] = 'transferred', new[TF.id], now, note
local tb = save_ticket(t)
inc('transfers|' .. t[TF.service], '1')
local delta = 0
if was ~= 'waiting' then delta = TOT.waiting - TOT[was] end
return finish(emit(m, 'transferred', now, tb, cb, totals(delta),
  #waiting > 0 and cmsgpack.pack(waiting) or nil, nb))
