-- Events: one msgpack array per transition in the center's capped stream (records.py,
-- EVENT_FIELDS). Records come as packed bytes (or nil); every frame a display gets, every
-- metric and every archived row comes from here.

-- Answers {stream id, event bytes}. 'waiting' is a list {service, count, …} or nil.
local function emit(m, kind, now, ticket, counter, before, new_ticket, totals, waiting, info)
  local event = EVENT_HEAD .. cmsgpack.pack(kind, now) .. (ticket or NIL) .. (counter or NIL)
    .. (before or NIL) .. (new_ticket or NIL) .. (totals and cmsgpack.pack(totals) or NIL)
    .. (waiting and cmsgpack.pack(waiting) or NIL) .. cmsgpack.pack(ACTOR, ORIGIN)
    .. (info and cmsgpack.pack(info) or NIL)
  local id = redis.call('XADD', K.events(), 'MAXLEN', '~', m[1], '*', 'd', event)
  return {id, event}
end

-- The answer of an action that changed nothing: no event id, the counter as it is.
local function unchanged(now, packed_counter)
  return {'', EVENT_HEAD .. cmsgpack.pack('none', now) .. NIL .. (packed_counter or NIL)
    .. NIL .. NIL .. NIL .. NIL .. cmsgpack.pack(ACTOR, ORIGIN) .. NIL}
end
