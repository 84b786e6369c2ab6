-- Set the services a counter serves, in its call order: ARGV[3] counter, [4] comma list.
-- Takes effect at the counter's next call.
local replayed = begin()
if replayed then return replayed end
local c = load_counter(ARGV[3])
local services = split(ARGV[4])
if #services == 0 then fail('invalid-input', 'a counter serves at least one service') end
local seen = {}
for _, service in ipairs(services) do
  require_service(service)
  if seen[service] then fail('invalid-input', 'service ' .. service .. ' is listed twice') end
  seen[service] = true
end
local now = now_ms()
if c.state == 'open' then set_active(c, -1) end
c.svcs = table.concat(services, ',')
if c.state == 'open' then set_active(c, 1) end
redis.call('HSET', K.counter(c.id), 'svcs', c.svcs)
local event = emit('counter_updated', now, {counter = counter_view(c)})
return finish({counter = counter_view(c), event = event})
