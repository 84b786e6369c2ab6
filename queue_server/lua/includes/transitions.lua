-- Moves shared by several scripts.

-- waiting -> called at counter c (call next, call a chosen ticket). 'live' holds the
-- ticket's class field, the totals and, for a service queue, the service's classes.
local function do_call(m, t, c, before, now, streak, live)
  local class = t[TF.queue]
  local field = dequeue(t, live)
  live.called = live.called + 1
  live_set(live, {field, 'waiting', 'called'})
  t[TF.status], t[TF.called], t[TF.counter], t[TF.staff], t[TF.recalls] =
    TO.call, now, c[CF.id], c[CF.staff], 0
  c[CF.ticket], c[CF.streak], c[CF.held_since] = t[TF.id], streak, whole_second(now)
  local waiting = nil
  if class ~= 'K' and class ~= 'KP' then
    waiting = {t[TF.service], service_waiting(live, t[TF.service])}
  end
  return emit(m, 'called', now, save_ticket(t), save_counter(c), before, nil,
    totals_of(live), waiting)
end

-- The ticket in hand leaves the counter (complete, no-show, transfer).
local function release(c)
  c[CF.ticket], c[CF.held_since] = '', 0
end

-- called -> no_show (marked by staff, or the recall past the limit).
local function do_no_show(m, t, c, before, now)
  release(c)
  t[TF.status], t[TF.ended] = TO.no_show, now
  local live = live_get(TOTALS)
  live.called = live.called - 1
  live_set(live, {'called'})
  return emit(m, 'no_show', now, save_ticket(t), save_counter(c), before, nil,
    totals_of(live))
end

-- An open counter counts for each service it serves ('a:<service>').
local function count_active(c, sign)
  local names = {}
  for i, service in ipairs(c[CF.services]) do names[i] = 'a:' .. service end
  if #names == 0 then return end
  local live = live_get(names)
  for _, name in ipairs(names) do live[name] = live[name] + sign end
  live_set(live, names)
end
