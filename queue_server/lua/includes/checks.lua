-- Checks, before any write. Each refusal names a reason of the message catalogue and the
-- fields its sentence needs.

-- Answers the service's meta field s:<id>, "<prefix> <typical seconds> <slot ms>".
local function require_service(service)
  local info = redis.call('HGET', KEYS[1], 's:' .. service)
  if not info then
    fail('unknown-service', 'service_unknown', {service = service, center = center_id()})
  end
  return info
end

-- A citizen acts on a ticket only with its secret: the stored hash must match.
local function require_token(t, token_hash)
  if token_hash ~= '' and token_hash ~= redis.call('HGET', K.ticket(t[TF.id]), 'h') then
    fail('forbidden', 'ticket_token_mismatch', {number = t[TF.number]})
  end
end

-- A counter's staff check: '' acts as the system or a supervisor, anyone else must hold it.
local function require_holder(c, staff)
  if staff ~= '' and c[CF.staff] ~= staff then
    fail('counter-state', 'counter_held_by_other',
      {counter = c[CF.id], holder = c[CF.staff], staff = staff})
  end
end

-- The lifecycle table of rules/states.py: may 'action' move ticket t?
local function require_status(t, action)
  if not ALLOWED[action][t[TF.status]] then
    fail('illegal-transition', 'ticket_status',
      {action = action, number = t[TF.number], ticket = t[TF.id], status = t[TF.status],
       allowed = ALLOWED_TEXT[action]})
  end
end

-- A counter that may call someone: open, and nothing in hand.
local function require_free(c)
  if c[CF.state] ~= 'open' then
    fail('counter-state', 'counter_not_open', {counter = c[CF.id], state = c[CF.state]})
  end
  if c[CF.ticket] ~= '' then
    fail('counter-state', 'counter_busy', {counter = c[CF.id], ticket = c[CF.ticket]})
  end
end

-- The ticket a counter holds, for recall, start, complete, no-show.
local function held_ticket(c, action)
  if c[CF.ticket] == '' then
    fail('illegal-transition', 'nothing_in_hand', {action = action, counter = c[CF.id]})
  end
  local t = load_ticket(c[CF.ticket])
  require_status(t, action)
  return t
end

local function serves(c, service)
  for _, s in ipairs(c[CF.services]) do
    if s == service then return true end
  end
  return false
end
