-- Transfer a ticket to another service and/or a counter, keeping its original arrival.
-- KEYS[1] the center's meta. ARGV[5] ticket id ('' = the one in hand at the acting counter),
-- [6] acting counter ('' for a supervisor moving a waiting ticket), [7] staff, [8] target
-- service ('' = same), [9] target counter ('' = any), [10] note, [11] '1' when a supervisor
-- chooses to send it to a counter that is not open (it then waits for that counter).
local replayed = replay()
if replayed then return replayed end
local m, now = begin('keep_ms')
local ticket_id = ARGV[5]
if ticket_id == '' then
  local holder = load_counter(ARGV[6])
  if holder[CF.ticket] == '' then
    fail('illegal-transition', 'nothing_in_hand', {action = 'transfer', counter = holder[CF.id]})
  end
  ticket_id = holder[CF.ticket]
end
local t = load_ticket(ticket_id)
require_status(t, 'transfer')
local acting, staff, to_counter, note = ARGV[6], ARGV[7], ARGV[9], ARGV[10]
local to_service = ARGV[8] ~= '' and ARGV[8] or t[TF.service]
local c, before = nil, nil
if t[TF.status] ~= 'waiting' then
  c, before = load_counter(acting ~= '' and acting or t[TF.counter])
  require_holder(c, staff)
  if c[CF.ticket] ~= t[TF.id] then
    fail('counter-state', 'ticket_not_in_hand', {number = t[TF.number], counter = c[CF.id]})
  end
end
local info = require_service(to_service)
if to_counter ~= '' then
  local target = load_counter(to_counter)
  if target[CF.state] ~= 'open' and ARGV[11] ~= '1' then
    fail('counter-state', 'target_counter_not_open',
      {counter = to_counter, state = target[CF.state]})
  end
end
if to_service == t[TF.service] and to_counter == '' then
  fail('invalid-input', 'transfer_changes_nothing', {number = t[TF.number]})
end

local was, day = t[TF.status], local_day(now)
local new = number_ticket(day, day_end(now), to_service, info, tonumber(m[FIRST_SETTING]))
new[TF.status], new[TF.priority], new[TF.channel], new[TF.arrived], new[TF.issued] =
  'waiting', t[TF.priority], 'transfer', t[TF.arrived], now
new[TF.from], new[TF.note], new[TF.target_counter] = t[TF.id], note, to_counter
new[TF.queue] = classify(new, 0)
local names = service_fields(to_service, class_field(new), 'waiting', 'called', 'serving')
if was == 'waiting' then
  for _, name in ipairs(service_fields(t[TF.service], class_field(t))) do
    names[#names + 1] = name
  end
end
local live = live_get(names)
local changed = {class_field(new), 'waiting'}
local waiting = {}
if was == 'waiting' then
  local old_class = t[TF.queue]
  changed[#changed + 1] = dequeue(t, live)
  if old_class ~= 'K' and old_class ~= 'KP' then
    waiting[#waiting + 1], waiting[#waiting + 2] = t[TF.service], 0
  end
else
  live[was] = live[was] - 1
  changed[#changed + 1] = was
end
enqueue(new, live)
if new[TF.queue] ~= 'K' and new[TF.queue] ~= 'KP' then
  waiting[#waiting + 1], waiting[#waiting + 2] = to_service, 0
end
for i = 1, #waiting, 2 do waiting[i + 1] = service_waiting(live, waiting[i]) end
live_set(live, changed)
local cb = nil
if c ~= nil then
  release(c)
  cb = save_counter(c)
end
local hashes = redis.call('HMGET', K.ticket(t[TF.id]), 'h', 'c')
local nb = store_new_ticket(new, day_end(now), tonumber(m[FIRST_SETTING]), hashes[1] or '',
  hashes[2] or '')
t[TF.status], t[TF.to], t[TF.ended], t[TF.note] = TO.transfer, new[TF.id], now, note
return finish(emit(m, 'transferred', now, save_ticket(t), cb, before, nb, totals_of(live),
  #waiting > 0 and waiting or nil))
