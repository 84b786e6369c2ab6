-- A retried request with the same key answers what the first one answered (DESIGN.md §6).

local function replay()
  if IDEM == '' then return nil end
  local previous = redis.call('GET', K.idempotency(IDEM))
  if not previous then return nil end
  local cut = string.find(previous, '\n', 1, true)
  if string.sub(previous, 1, cut - 1) ~= FP then
    fail('idempotency-mismatch', 'idempotency_key_reused', {key = IDEM})
  end
  return cmsgpack.unpack(string.sub(previous, cut + 1))
end

local function finish(reply)
  if IDEM ~= '' then
    local ttl = redis.call('HGET', KEYS[1], 'idem_ttl')
    redis.call('SET', K.idempotency(IDEM), FP .. '\n' .. cmsgpack.pack(reply), 'EX', ttl)
  end
  return reply
end
