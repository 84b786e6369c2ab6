-- Call a chosen waiting ticket out of order: ARGV[3] counter, [4] staff, [5] ticket id.
-- The counter's priority streak is left as it was: staff chose, the policy did not.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
require_free(c)
local t = load_ticket(ARGV[5])
require_ticket_status(t, 'waiting', 'call')
local tc, mine = t[TF.target_counter], false
if tc ~= '' then
  mine = tc == c[CF.id]
else
  for _, service in ipairs(c[CF.services]) do
    if service == t[TF.service] then mine = true end
  end
end
if not mine then
  fail('counter-state', 'counter ' .. c[CF.id] .. ' does not serve ticket ' .. t[TF.number]
    .. ' (service ' .. t[TF.service] .. ')')
end
return finish(do_call(m, t, c, now_ms(m), c[CF.streak]))
