-- Raise one center's numbering of one local day back to what answers and events have shown
-- (queue_server/high_water.py): KEYS[1] the day's 'seq:<YYYYMMDD>' hash of the center,
-- ARGV service, floor pairs. A service whose last number is below its floor (Redis lost its
-- last writes: a crash under appendfsync everysec, a failover to a replica that lagged) is
-- raised to it, so the next ticket gets floor + 1 and no number is handed out twice; a
-- number is never lowered. Answers how many services were raised.
local raised = 0
for i = 1, #ARGV, 2 do
  local floor = tonumber(ARGV[i + 1])
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if floor and current < floor then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    raised = raised + 1
  end
end
-- A numbering the crash lost altogether gets back an expiry long enough for any day it may be
-- (a booking's day lies up to the booking horizon ahead): forty days.
if raised > 0 and redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], '3456000')
end
return raised
