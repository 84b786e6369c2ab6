-- Call the next ticket at a counter: ARGV[3] counter, [4] staff ('' = system/supervisor).
-- The choice mirrors queue_server/rules/routing.py:pick_next exactly.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
require_free(c)
local now = now_ms()
local sources = {{'P', K.counter_queue_priority(c.id)}, {'N', K.counter_queue(c.id)}}
for _, service in ipairs(split(c.svcs or '')) do
  sources[#sources + 1] = {'P', K.queue_priority(service)}
  sources[#sources + 1] = {'A', K.queue_appointment(service)}
  sources[#sources + 1] = {'N', K.queue(service)}
end
local best = {}
for _, source in ipairs(sources) do
  local head = redis.call('ZRANGE', source[2], 0, 0, 'WITHSCORES')
  if head[1] then
    local score, current = tonumber(head[2]), best[source[1]]
    -- strictly earlier only: equal times keep the earlier source (the counter's order)
    if current == nil or score < current.score then
      best[source[1]] = {id = head[1], score = score}
    end
  end
end
local due = nil
if best.A ~= nil and best.A.score <= now + META.window_ms then due = best.A end
local others_waiting = best.N ~= nil or due ~= nil
local pick, streak
if best.P ~= nil and (c.streak < META.max_in_row or not others_waiting) then
  pick, streak = best.P, c.streak + 1
else
  pick, streak = due or best.N or best.A, 0
end
if pick == nil then return finish({counter = counter_view(c)}) end
local t = load_ticket(pick.id)
local event = do_call(t, c, now, streak)
return finish({ticket = ticket_view(t), counter = counter_view(c), event = event})
