-- The citizen rates a completed service, once. KEYS[1] the center's meta. ARGV[5] ticket id,
-- [6] level 1..5, [7] the citizen's token hash ('' for a counter's rating tablet).
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local t = load_ticket(ARGV[5])
require_token(t, ARGV[7])
local level = tonumber(ARGV[6])
if level == nil or level < 1 or level > 5 or level ~= math.floor(level) then
  fail('invalid-input', 'rating_invalid', {rating = ARGV[6]})
end
if t[TF.status] ~= 'done' then
  fail('illegal-transition', 'ticket_status', {action = 'rate', number = t[TF.number],
    ticket = t[TF.id], status = t[TF.status], allowed = 'done'})
end
if t[TF.rating] ~= 0 then fail('illegal-transition', 'already_rated', {number = t[TF.number]}) end
t[TF.rating] = level
return finish(emit(m, 'rated', now, save_ticket(t)))
