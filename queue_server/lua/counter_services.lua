-- Set the services a counter serves, in its call order; takes effect at its next call.
-- KEYS[1] the center's meta. ARGV[5] counter, [6] comma list of service ids.
local replayed = replay()
if replayed then return replayed end
local m, now = begin()
local c, before = load_counter(ARGV[5])
local services = split(ARGV[6])
if #services == 0 then fail('invalid-input', 'services_empty', {counter = c[CF.id]}) end
local seen = {}
for _, service in ipairs(services) do
  require_service(service)
  if seen[service] then fail('invalid-input', 'service_repeated', {service = service}) end
  seen[service] = true
end
if c[CF.state] == 'open' then count_active(c, -1) end
c[CF.services] = services
if c[CF.state] == 'open' then count_active(c, 1) end
return finish(emit(m, 'counter_updated', now, nil, save_counter(c), before))
