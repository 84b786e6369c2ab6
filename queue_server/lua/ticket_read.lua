-- Read one ticket with what its estimated wait needs: ARGV[3] ticket id. Read-only.
-- Answers {ticket record (packed), people ahead (-1 unless waiting), open counters that would
-- call it, today's 'count + ms' of its service's completions, its typical seconds, now,
-- the hash of its token}.
local m = settings('window_ms')
local t, packed = load_ticket(ARGV[3])
local now = now_ms(m)
local service, tc = t[TF.service], t[TF.target_counter]
local counts, done_today = service_load(service, local_day(now))
local active = math.floor(tonumber(counts) / SQ.active)
if tc ~= '' then
  active = load_counter(tc)[CF.state] == 'open' and 1 or 0
end
return {packed, people_ahead(t, now, tonumber(m[3])), active, done_today,
  typical_of(redis.call('HGET', KEYS[1], 's:' .. service)), now,
  redis.call('HGET', K.ticket(t[TF.id]), 'h') or ''}
