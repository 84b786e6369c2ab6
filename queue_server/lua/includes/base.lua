-- Shared by every center script. scripts.py puts in front of the includes: P (the center's
-- key prefix, set by setup), the key functions K.* of keys.py, the record layouts of
-- records.py (TF, CF, blank_ticket, blank_counter, EVENT_HEAD) and the lifecycle of
-- rules/states.py (ALLOWED, TO, ALLOWED_TEXT, ISSUE_CHANNELS, LAPSED).
--
-- ARGV of every center script: [1] idempotency key ('' for none), [2] the request's
-- fingerprint, [3] actor (who: 'staff:<username>', 'kiosk:<device>', 'citizen', 'system' …),
-- [4] origin (the client's address, or ''); the script's own arguments follow from ARGV[5].
--
-- Rules of every script:
-- * validate everything first, write afterwards: Redis does not roll back a script that fails
--   halfway, so a refusal must come before the first write (the day close that was due runs
--   first, as its own step: see day.lua);
-- * a transition writes its state and appends its event, nothing else: metrics, day totals
--   and staff time are projections of the stream (project.lua, DESIGN.md §7);
-- * cost: every value that crosses into redis.call costs, and a number costs more than a
--   string (Redis formats it with "%.17g"), so arguments are strings; records are packed once
--   and the same bytes are stored, appended to the stream and answered.

local IDEM, FP, ACTOR, ORIGIN = '', '', '', ''
local NIL = '\192'  -- msgpack nil

local function setup()
  P = string.sub(KEYS[1], 1, -5)  -- KEYS[1] is the center's 'meta' key
  IDEM, FP, ACTOR, ORIGIN = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
end

local function center_id()
  return string.match(P, '{c:(.-)}')
end

-- A refusal: 'QMS <code> <reason> <fields as JSON>'; Python renders the sentence from the
-- message catalogue (queue_server/errors.py, translate_error).
local function fail(code, reason, fields)
  error({err = 'QMS ' .. code .. ' ' .. reason .. ' ' .. cjson.encode(fields or {})})
end

local function int(n)
  return string.format('%d', n)
end

-- Spans of a counter are kept in whole seconds, so a scrape's second-rounded clock never
-- shows more than is later booked.
local function whole_second(ms)
  return ms - ms % 1000
end

-- The center's settings a script needs (one HMGET of the 'meta' hash): 'maxlen', 'clock'
-- and 'closes_at' first, then the fields asked for. An unknown center has no meta.
local function settings(...)
  local m = redis.call('HMGET', KEYS[1], 'maxlen', 'clock', 'closes_at', ...)
  if not m[1] then fail('unknown-center', 'center_unknown', {center = center_id()}) end
  return m
end
local FIRST_SETTING = 4  -- m[4] is the first field a script asked for

-- Redis TIME in ms, plus the meta field 'clock' that only tests set (DESIGN.md §4).
local function now_ms(m)
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000) + (tonumber(m[2]) or 0)
end

-- Local calendar day (UTC+7, no daylight saving) as YYYYMMDD: civil-from-days arithmetic with
-- the % operator (a floor that costs no function call); rules/clock.py is the same in Python.
local function local_day(ms)
  local s = ms / 1000 + 25200
  local days = (s - s % 86400) / 86400
  local z = days + 719468
  local era = (z - z % 146097) / 146097
  local doe = z - era * 146097
  local yoe = doe - (doe - doe % 1460) / 1460 + (doe - doe % 36524) / 36524
    - (doe - doe % 146096) / 146096
  yoe = (yoe - yoe % 365) / 365
  local doy = doe - (365 * yoe + (yoe - yoe % 4) / 4 - (yoe - yoe % 100) / 100)
  local mp = (5 * doy + 2 - (5 * doy + 2) % 153) / 153
  local d = doy - (153 * mp + 2 - (153 * mp + 2) % 5) / 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%d', y * 10000 + m * 100 + d)
end

-- The local midnight that ends the day of 'ms'.
local function day_end(ms)
  local s = ms + 25200000
  return s - s % 86400000 + 86400000 - 25200000
end

local function split(list)
  local out = {}
  for item in string.gmatch(list, '[^,]+') do out[#out + 1] = item end
  return out
end
