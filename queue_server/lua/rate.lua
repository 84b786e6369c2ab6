-- The citizen rates a completed service: ARGV[3] ticket id, [4] level 1..5, [5] the citizen's
-- token hash ('' for a counter's rating tablet). Once per ticket.
local replayed = begin()
if replayed then return replayed end
local t = load_ticket(ARGV[3])
require_token(t, ARGV[5])
local level = tonumber(ARGV[4])
if level == nil or level < 1 or level > 5 or level ~= math.floor(level) then
  fail('invalid-input', 'rating must be a whole number from 1 to 5, got ' .. ARGV[4])
end
require_ticket_status(t, 'done', 'rate')
if tonumber(t.rating) ~= 0 then
  fail('illegal-transition', 'ticket ' .. t.number .. ' was already rated')
end
local now = now_ms()
t.rating = level
set_ticket(t, 'rating', level)
inc('ratings|' .. t.service .. '|' .. level)
day_inc(now, 'rating_sum', level)
day_inc(now, 'rating_n')
if t.staff ~= '' then
  inc('s_ratings|' .. t.staff .. '|' .. level)
  day_inc(now, 'st:' .. t.staff .. ':rating_sum', level)
  day_inc(now, 'st:' .. t.staff .. ':rating_n')
end
local event = emit('rated', now, {ticket = ticket_view(t)})
return finish({ticket = ticket_view(t), event = event})
