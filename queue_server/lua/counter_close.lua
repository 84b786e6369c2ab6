-- Close a counter and release its staff member. Tickets waiting for this counter alone go
-- back to their service's queue by their original arrival (docs/rules.md), one 'requeued'
-- event each, so nobody waits for a counter that nobody works.
-- KEYS[1] the center's meta. ARGV[5] counter, [6] staff.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, before = load_counter(ARGV[5])
require_holder(c, ARGV[6])
if c[CF.state] == 'closed' then
  fail('counter-state', 'counter_already_closed', {counter = c[CF.id]})
end
if c[CF.ticket] ~= '' then
  fail('counter-state', 'counter_busy', {counter = c[CF.id], ticket = c[CF.ticket]})
end
if c[CF.state] == 'open' then count_active(c, -1) end
local id = c[CF.id]
for _, key in ipairs({K.counter_queue_priority(id), K.counter_queue(id)}) do
  for _, ticket_id in ipairs(redis.call('ZRANGE', key, '0', '-1')) do
    local t = load_ticket(ticket_id)
    local service = t[TF.service]
    local live = live_get(service_fields(service, class_field(t), 'waiting', 'called',
      'serving'))
    local from = dequeue(t, live)
    t[TF.target_counter] = ''
    t[TF.queue] = classify(t, 0)
    local to = enqueue(t, live)
    live_set(live, {from, to, 'waiting'})
    emit(m, 'requeued', now, save_ticket(t), nil, nil, nil, totals_of(live),
      {service, service_waiting(live, service)}, {from_counter = id})
  end
end
c[CF.state], c[CF.staff], c[CF.reason], c[CF.streak], c[CF.since] =
  'closed', '', '', 0, whole_second(now)
return finish(emit(m, 'counter_closed', now, nil, save_counter(c), before))
