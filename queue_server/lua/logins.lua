-- The logins of one staff account: KEYS[1] its hash (field: login id, value: expiry in epoch
-- seconds), written by queue_server/sessions.py. ARGV[1] is the operation:
--   'add'  ARGV[2] login id, ARGV[3] its expiry, ARGV[4] now: record it, drop the expired
--          ones, keep the hash as long as its last login;
--   'keep' ARGV[2] the one login to keep (a password change ends every other one).
-- Answers the number of logins the account has afterwards.
local op = ARGV[1]
if op == 'add' then
  local now, latest = tonumber(ARGV[4]), tonumber(ARGV[3])
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local expiry = tonumber(all[i + 1]) or 0
    if expiry <= now then
      redis.call('HDEL', KEYS[1], all[i])
    elseif expiry > latest then
      latest = expiry
    end
  end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('EXPIREAT', KEYS[1], string.format('%d', latest))
elseif op == 'keep' then
  for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
    if id ~= ARGV[2] then redis.call('HDEL', KEYS[1], id) end
  end
else
  return redis.error_reply('QMS invalid-input unknown logins operation ' .. tostring(op))
end
return redis.call('HLEN', KEYS[1])
