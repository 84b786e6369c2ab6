-- Set the services a counter serves, in its call order: ARGV[3] counter, [4] comma list.
-- Takes effect at the counter's next call.
local replayed = replay()
if replayed then return replayed end
local m = settings()
local c = load_counter(ARGV[3])
local services = split(ARGV[4])
if #services == 0 then fail('invalid-input', 'a counter serves at least one service') end
local seen = {}
for _, service in ipairs(services) do
  require_service(service)
  if seen[service] then fail('invalid-input', 'service ' .. service .. ' is listed twice') end
  seen[service] = true
end
local now = now_ms(m)
if c[CF.state] == 'open' then set_active(c, -1) end
c[CF.services] = services
if c[CF.state] == 'open' then set_active(c, 1) end
return finish(emit(m, 'counter_updated', now, nil, save_counter(c)))
