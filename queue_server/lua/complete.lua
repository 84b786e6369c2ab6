-- Complete the ticket in hand: ARGV[3] counter, [4] staff.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c = load_counter(ARGV[3])
require_holder(c, ARGV[4])
local t = held_ticket(c, 'serving', 'complete')
local now = now_ms(m)
local staff, service = t[TF.staff], t[TF.service]
release_ticket(c, now)
t[TF.status], t[TF.ended] = 'done', now
local tb, cb = save_ticket(t), save_counter(c)
local served = now - t[TF.started]
local day = local_day(now)
observe('svc', service, served, SERVICE_BOUNDS)
day_inc(day, 'sv:' .. service, int(1 + served * DAY_PAIR))
-- Per staff: who called the ticket (its time in hand went to whoever held the counter).
if staff ~= '' then
  observe('s_svc', staff, served, SERVICE_BOUNDS)
  day_inc(day, 'st:' .. staff .. ':sv', int(1 + served * DAY_PAIR))
  day_inc(day, 'st:' .. staff .. ':wait_ms', int(t[TF.called] - wait_start(t)))
end
return finish(emit(m, 'completed', now, tb, cb, totals(-TOT.serving)))
