-- Recall the ticket in hand: ARGV[3] counter, [4] staff. After META.max_recalls recalls the
-- next recall marks the ticket no-show instead.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'called', 'recall')
local now = now_ms()
if tonumber(t.recalls) >= META.max_recalls then
  local event = do_no_show(t, c, now)
  return finish({ticket = ticket_view(t), counter = counter_view(c), event = event})
end
t.recalls = tonumber(t.recalls) + 1
set_ticket(t, 'recalls', t.recalls)
inc('recalls|' .. t.service)
if c.staff ~= '' then inc('s_recalls|' .. c.staff) end
local event = emit('recalled', now, {ticket = ticket_view(t), counter = counter_view(c)})
return finish({ticket = ticket_view(t), counter = counter_view(c), event = event})
