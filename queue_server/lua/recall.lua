-- Recall the ticket in hand; after 'max_recalls' recalls the next one marks it no-show.
-- KEYS[1] the center's meta. ARGV[5] counter, [6] staff.
local replayed = replay()
if replayed then return replayed end
local m, now = begin('max_recalls')
local c, packed = load_counter(ARGV[5])
require_holder(c, ARGV[6])
local t = held_ticket(c, 'recall')
if t[TF.recalls] >= tonumber(m[FIRST_SETTING]) then
  return finish(do_no_show(m, t, c, packed, now))
end
t[TF.recalls] = t[TF.recalls] + 1
return finish(emit(m, 'recalled', now, save_ticket(t), packed))
