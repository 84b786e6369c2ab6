-- The benchmark's ceiling: one command, called exactly like an engine script.
return redis.call('INCR', KEYS[1])
