-- Transfer a ticket to another service and/or a counter, keeping its original arrival:
-- ARGV[3] ticket id ('' = the one in hand at the acting counter), [4] acting counter ('' for a
-- supervisor moving a waiting ticket), [5] staff, [6] target service ('' = same),
-- [7] target counter ('' = any), [8] note.
local replayed = begin()
if replayed then return replayed end
local ticket_id = ARGV[3]
if ticket_id == '' then
  local holder = load_counter(ARGV[4])
  if holder.tk == '' then
    fail('illegal-transition', 'cannot transfer: counter ' .. holder.id .. ' has no ticket in hand')
  end
  ticket_id = holder.tk
end
local t = load_ticket(ticket_id)
require_ticket_status(t, 'waiting,called,serving', 'transfer')
local acting, staff, to_counter, note = ARGV[4], ARGV[5], ARGV[7], ARGV[8]
local to_service = ARGV[6] ~= '' and ARGV[6] or t.service
local c = nil
if t.status ~= 'waiting' then
  c = load_counter(acting ~= '' and acting or t.counter)
  require_holder(c, staff)
  if c.tk ~= t.id then
    fail('counter-state', 'ticket ' .. t.number .. ' is not in hand at counter ' .. c.id)
  end
end
require_service(to_service)
if to_counter ~= '' then load_counter(to_counter) end
if to_service == t.service and to_counter == '' then
  fail('invalid-input', 'a transfer needs another service or a target counter')
end

local now = now_ms()
if t.status == 'waiting' then dequeue(t) else live(t.status, -1) end
if c ~= nil then
  account(c, now)
  c.tk = ''
  save_counter(c, now)
end
local new = create_ticket(now, to_service, 'transfer', t.prio, tonumber(t.arrived), 0, 'waiting',
  {from = t.id, tc = to_counter, th = t.th, note = note})
enqueue(new)
t.status, t.to, t.ended, t.note = 'transferred', new.id, now, note
set_ticket(t, 'status', 'transferred', 'to', new.id, 'ended', now, 'note', note)
inc('transfers|' .. t.service)
local event = emit('transferred', now, {ticket = ticket_view(t), new_ticket = ticket_view(new),
  counter = c and counter_view(c) or nil}, {t.service, to_service})
return finish({ticket = ticket_view(t), new_ticket = ticket_view(new),
  counter = c and counter_view(c) or nil, event = event})
