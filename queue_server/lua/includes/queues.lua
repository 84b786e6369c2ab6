-- Queues and the live counts kept beside them (the hash 'live': the center's waiting /
-- called / serving, per service the classes N:, A:, P: and the open counters a:, per
-- counter its own queues K:, KP:). A script reads the counts it needs in one HMGET
-- (live_get), changes them in the table, and writes them back in one HSET (live_set).

local function live_get(names)
  local values = redis.call('HMGET', K.live(), unpack(names))
  local live = {}
  for i, name in ipairs(names) do live[name] = tonumber(values[i]) or 0 end
  return live
end

local function live_set(live, names)
  local args = {}
  for _, name in ipairs(names) do
    args[#args + 1] = name
    args[#args + 1] = int(live[name])
  end
  redis.call('HSET', K.live(), unpack(args))
end

local TOTALS = {'waiting', 'called', 'serving'}

local function totals_of(live)
  return {live.waiting, live.called, live.serving}
end

-- The class a ticket about to wait goes to (records.py, 'queue'): a counter's own queues for a
-- ticket sent to that counter, else priority, else an appointment checked in in time, else
-- normal. 'late_ms': how late after its slot an appointment may check in and keep it.
local function classify(t, late_ms)
  local tc, prio = t[TF.target_counter], t[TF.priority]
  if tc ~= '' then return prio ~= '' and 'KP' or 'K' end
  if prio ~= '' then return 'P' end
  if t[TF.appt] > 0 and t[TF.arrived] <= t[TF.appt] + late_ms then return 'A' end
  return 'N'
end

-- The live field counting the ticket's class: 'N:land', 'KP:3' …
local function class_field(t)
  local class = t[TF.queue]
  if class == 'K' or class == 'KP' then return class .. ':' .. t[TF.target_counter] end
  return class .. ':' .. t[TF.service]
end

local QUEUE_KEYS = {N = K.queue, A = K.queue_appointment, P = K.queue_priority,
  K = K.counter_queue, KP = K.counter_queue_priority}

-- The sorted set and score of a ticket waiting in its class (appointments by their slot).
local function queue_key(t)
  local class = t[TF.queue]
  if class == 'K' or class == 'KP' then
    return QUEUE_KEYS[class](t[TF.target_counter]), t[TF.arrived]
  end
  if class == 'A' then return K.queue_appointment(t[TF.service]), t[TF.appt] end
  return QUEUE_KEYS[class](t[TF.service]), t[TF.arrived]
end

-- Into its class's queue; 'live' must hold the ticket's class field and 'waiting'.
local function enqueue(t, live)
  local key, score = queue_key(t)
  redis.call('ZADD', key, int(score), t[TF.id])
  local field = class_field(t)
  live[field] = live[field] + 1
  live.waiting = live.waiting + 1
  return field
end

local function dequeue(t, live)
  local key = queue_key(t)
  redis.call('ZREM', key, t[TF.id])
  local field = class_field(t)
  live[field] = live[field] - 1
  live.waiting = live.waiting - 1
  t[TF.queue] = ''
  return field
end

-- Waiting in a service's own queues (what displays count per service).
local function service_waiting(live, service)
  return live['N:' .. service] + live['A:' .. service] + live['P:' .. service]
end

local function service_fields(service, ...)
  local names = {'N:' .. service, 'A:' .. service, 'P:' .. service}
  for _, extra in ipairs({...}) do names[#names + 1] = extra end
  return names
end
