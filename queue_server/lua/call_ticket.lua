-- Call a chosen waiting ticket out of order: ARGV[3] counter, [4] staff, [5] ticket id.
-- The counter's priority streak is left as it was: staff chose, the policy did not.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
require_free(c)
local t = load_ticket(ARGV[5])
require_ticket_status(t, 'waiting', 'call')
local mine = (t.tc ~= '' and t.tc == c.id) or (t.tc == '' and in_list(c.svcs or '', t.service))
if not mine then
  fail('counter-state', 'counter ' .. c.id .. ' does not serve ticket ' .. t.number
    .. ' (service ' .. t.service .. ')')
end
local now = now_ms()
local event = do_call(t, c, now, c.streak)
return finish({ticket = ticket_view(t), counter = counter_view(c), event = event})
