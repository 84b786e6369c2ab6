-- Create or replace an account or device record: KEYS[1] its key, ARGV[1] '1' to refuse when
-- it exists, ARGV[2..] field/value pairs. Answers 1 when written, 0 when refused.
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
