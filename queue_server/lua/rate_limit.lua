-- Fixed-window rate limit on one key: KEYS[1] the window's key, ARGV[1] limit, ARGV[2] window
-- seconds. Answers {allowed (1/0), seconds until the window ends}. One script: INCR and EXPIRE
-- can never be split by a crash, so a key never lives forever.
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[2]) end
if count > tonumber(ARGV[1]) then return {0, ttl} end
return {1, ttl}
