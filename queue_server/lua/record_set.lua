-- Change fields of an existing account or device record: KEYS[1] its key, ARGV field/value
-- pairs. Answers 1 when written, 0 when there is no such record (nothing is created).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
