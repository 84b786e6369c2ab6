-- Call the next ticket at a counter. The choice mirrors rules/routing.py:pick_next exactly;
-- the live counts say which queues hold anyone, so only those are read.
-- KEYS[1] the center's meta. ARGV[5] counter, [6] staff ('' = system/supervisor).
-- Answers {event id or '', event} (type 'none' when nobody waits).
local replayed = replay()
if replayed then return replayed end
local m, now = begin('max_in_row', 'window_ms')
local c, before = load_counter(ARGV[5])
require_holder(c, ARGV[6])
require_free(c)
local id, services = c[CF.id], c[CF.services]
local names = {'KP:' .. id, 'K:' .. id}
for _, service in ipairs(services) do
  names[#names + 1], names[#names + 2], names[#names + 3] =
    'P:' .. service, 'A:' .. service, 'N:' .. service
end
names[#names + 1], names[#names + 2], names[#names + 3] = 'waiting', 'called', 'serving'
local live = live_get(names)

-- Sources in routing order: the counter's own queues, then per service P, A, N.
local best = {}
local function consider(class, key)
  local head = redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')
  local score, current = tonumber(head[2]), best[class]
  -- strictly earlier only: equal times keep the earlier source (the counter's order)
  if current == nil or score < current.score then best[class] = {id = head[1], score = score} end
end
if live['KP:' .. id] > 0 then consider('P', K.counter_queue_priority(id)) end
if live['K:' .. id] > 0 then consider('N', K.counter_queue(id)) end
for _, service in ipairs(services) do
  if live['P:' .. service] > 0 then consider('P', K.queue_priority(service)) end
  if live['A:' .. service] > 0 then consider('A', K.queue_appointment(service)) end
  if live['N:' .. service] > 0 then consider('N', K.queue(service)) end
end

local due = nil
if best.A ~= nil and best.A.score <= now + tonumber(m[FIRST_SETTING + 1]) then due = best.A end
local pick, streak = nil, 0
if best.P ~= nil and (c[CF.streak] < tonumber(m[FIRST_SETTING]) or (best.N == nil
    and due == nil)) then
  pick, streak = best.P, c[CF.streak] + 1
else
  pick = due or best.N or best.A
end
if pick == nil then return finish(unchanged(now, before)) end
return finish(do_call(m, load_ticket(pick.id), c, before, now, streak, live))
