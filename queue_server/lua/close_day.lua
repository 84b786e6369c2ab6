-- Close the center's day if it is due (the scheduler of every replica calls this; any other
-- script would do the same before its own work). KEYS[1] the center's meta.
-- Answers {1 if this call closed the day else 0, the next closing instant (ms), now}.
local m = settings()
local now = now_ms(m)
local closes_at = tonumber(m[3])
if closes_at and now >= closes_at then
  close_day(m, now)
  return {1, m[3], now}
end
return {0, m[3] or '0', now}
