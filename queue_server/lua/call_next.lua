-- Call the next ticket at a counter: ARGV[3] counter, [4] staff ('' = system/supervisor).
-- The choice mirrors queue_server/rules/routing.py:pick_next exactly. The live counts say
-- which queues hold anyone, so only those are read.
local replayed = replay()
if replayed then return replayed end
local m = settings('max_in_row', 'window_ms')
local c, packed_counter = load_counter(ARGV[3])
require_holder(c, ARGV[4])
require_free(c)
local now = now_ms(m)
local services = c[CF.services]
local fields = {'q:' .. c[CF.id]}
for i = 1, #services do fields[i + 1] = 'w:' .. services[i] end
local counts = redis.call('HMGET', K.live(), unpack(fields))

-- Sources in routing order: the counter's own queues, then per service P, A, N.
local best = {}
local function consider(class, key)
  local head = redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')
  local score, current = tonumber(head[2]), best[class]
  -- strictly earlier only: equal times keep the earlier source (the counter's order)
  if current == nil or score < current.score then
    best[class] = {id = head[1], score = score}
  end
end
local own = tonumber(counts[1] or '0')
if own > 0 then
  if math.floor(own / KQ.P) > 0 then consider('P', K.counter_queue_priority(c[CF.id])) end
  if own % KQ.P > 0 then consider('N', K.counter_queue(c[CF.id])) end
end
for i = 1, #services do
  local n = tonumber(counts[i + 1] or '0') % SQ.active
  if n > 0 then
    local service = services[i]
    if n >= SQ.P then consider('P', K.queue_priority(service)) end
    if n % SQ.P >= SQ.A then consider('A', K.queue_appointment(service)) end
    if n % SQ.A > 0 then consider('N', K.queue(service)) end
  end
end

local due = nil
if best.A ~= nil and best.A.score <= now + tonumber(m[4]) then due = best.A end
local others_waiting = best.N ~= nil or due ~= nil
local pick, streak
local in_row = c[CF.streak]
if best.P ~= nil and (in_row < tonumber(m[3]) or not others_waiting) then
  pick, streak = best.P, in_row + 1
else
  pick, streak = due or best.N or best.A, 0
end
if pick == nil then
  -- Nobody to call: no event; the answer has the same shape, with the counter as it is.
  return finish({'', EVENT_HEAD .. cmsgpack.pack('none', now) .. NIL .. packed_counter
    .. NIL .. NIL .. NIL})
end
return finish(do_call(m, load_ticket(pick.id), c, now, streak))
