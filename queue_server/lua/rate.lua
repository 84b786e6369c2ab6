-- The citizen rates a completed service: ARGV[3] ticket id, [4] level 1..5, [5] the citizen's
-- token hash ('' for a counter's rating tablet). Once per ticket.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local t = load_ticket(ARGV[3])
require_token(t, ARGV[5])
local level = tonumber(ARGV[4])
if level == nil or level < 1 or level > 5 or level ~= math.floor(level) then
  fail('invalid-input', 'rating must be a whole number from 1 to 5, got ' .. ARGV[4])
end
require_ticket_status(t, 'done', 'rate')
if t[TF.rating] ~= 0 then
  fail('illegal-transition', 'ticket ' .. t[TF.number] .. ' was already rated')
end
local now = now_ms(m)
t[TF.rating] = level
local tb = save_ticket(t)
local day, staff, given = local_day(now), t[TF.staff], int(level)
inc('ratings|' .. t[TF.service] .. '|' .. given, '1')
day_inc(day, 'rating_sum', given)
day_inc(day, 'rating_n', '1')
if staff ~= '' then
  inc('s_ratings|' .. staff .. '|' .. given, '1')
  day_inc(day, 'st:' .. staff .. ':rating_sum', given)
  day_inc(day, 'st:' .. staff .. ':rating_n', '1')
end
return finish(emit(m, 'rated', now, tb))
