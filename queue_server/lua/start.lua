-- Start serving the ticket in hand: ARGV[3] counter, [4] staff.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c, packed_counter = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'called', 'start')
local now = now_ms(m)
t[TF.status], t[TF.started] = 'serving', now
return finish(emit(m, 'started', now, save_ticket(t), packed_counter,
  totals(TOT.serving - TOT.called)))
