-- Read one ticket with what its estimated wait needs: ARGV[3] ticket id. Read-only.
load_meta()
local t = load_ticket(ARGV[3])
local now = now_ms()
local out = {ticket = ticket_view(t), now = now, load = service_load(t.service, t.tc, now),
  th = t.th, ahead = people_ahead(t, now)}
return cmsgpack.pack(out)
