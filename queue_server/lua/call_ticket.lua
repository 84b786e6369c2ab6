-- Call a chosen waiting ticket out of order. The counter's priority streak is left as it was:
-- staff chose, the policy did not.
-- KEYS[1] the center's meta. ARGV[5] counter, [6] staff, [7] ticket id.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, before = load_counter(ARGV[5])
require_holder(c, ARGV[6])
require_free(c)
local t = load_ticket(ARGV[7])
require_status(t, 'call')
local tc = t[TF.target_counter]
if (tc ~= '' and tc ~= c[CF.id]) or (tc == '' and not serves(c, t[TF.service])) then
  fail('counter-state', 'counter_does_not_serve',
    {counter = c[CF.id], number = t[TF.number], service = t[TF.service]})
end
local live = live_get(service_fields(t[TF.service], class_field(t), 'waiting', 'called',
  'serving'))
return finish(do_call(m, t, c, before, now, c[CF.streak], live))
