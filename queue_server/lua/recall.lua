-- Recall the ticket in hand: ARGV[3] counter, [4] staff. After max_recalls recalls the next
-- recall marks the ticket no-show instead.
local replayed = replay()
if replayed then return replayed end
local m = settings('max_recalls')
local c, packed_counter = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'called', 'recall')
local now = now_ms(m)
if t[TF.recalls] >= tonumber(m[3]) then return finish(do_no_show(m, t, c, now)) end
t[TF.recalls] = t[TF.recalls] + 1
local tb = save_ticket(t)
inc('recalls|' .. t[TF.service], '1')
if c[CF.staff] ~= '' then inc('s_recalls|' .. c[CF.staff], '1') end
return finish(emit(m, 'recalled', now, tb, packed_counter))
