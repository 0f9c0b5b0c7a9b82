-- Prepended to every script of the Redis store. Lua numbers are doubles: counters and
-- amounts travel as canonical decimal strings, are checked here, and every sum or
-- difference stays within 2^53-1, where doubles are exact. Numbers go back to Redis as
-- strings (or through HINCRBY, which is int64), never through tostring (1e+15).
local MAX = 9007199254740991
local MAX_STR = '9007199254740991'

-- A canonical integer string in 0..2^53-1 as a number, or nil.
local function amount(s)
  if type(s) ~= 'string' or #s > 16 then return nil end
  if s ~= '0' and not string.match(s, '^[1-9]%d*$') then return nil end
  local n = tonumber(s)
  if n > MAX then return nil end
  return n
end

-- A counter we wrote ourselves; anything else is corruption, not a refusal.
local function counter(s)
  local n = amount(s)
  if n == nil then error('corrupt counter value ' .. tostring(s)) end
  return n
end

-- Adds `add` (a canonical string) to a counter field, capped at 2^53-1, if the hash exists.
local function credit(key, field, add)
  local current = redis.call('HGET', key, field)
  if not current then return end
  local n = counter(add)
  if counter(current) > MAX - n then
    redis.call('HSET', key, field, MAX_STR)
  elseif n > 0 then
    redis.call('HINCRBY', key, field, add)
  end
end

-- Takes `sub` (a canonical string, at most the counter's value) off a counter field.
local function debit(key, field, sub)
  if counter(sub) > 0 then redis.call('HINCRBY', key, field, '-' .. sub) end
end

local function expired(expireAt, now)
  return expireAt and tonumber(expireAt) <= now
end

-- An effect record's fields, or nil when there is none; one past its expireAt is deleted
-- here and reads as absent.
local function live_effect(key, now)
  local f = redis.call('HMGET', key, 'kind', 'qty', 'amount', 'released', 'refunded', 'code', 'message', 'expireAt')
  if not f[1] then return nil end
  if expired(f[8], now) then
    redis.call('DEL', key)
    return nil
  end
  return { kind = f[1], qty = f[2], amount = f[3], released = f[4], refunded = f[5], code = f[6], message = f[7] }
end

-- Key names derived inside Lua must match keys.ts.
local function order_key(prefix, orderId) return prefix .. '{o:' .. orderId .. '}' end
local function idem_key(prefix, key) return prefix .. 'idem:' .. key end

-- An order's row, its index entry and its idempotency key go together.
local function drop_order(prefix, orderId, row, deadlines, idem)
  redis.call('DEL', row)
  redis.call('ZREM', deadlines, orderId)
  if idem then
    local ikey = idem_key(prefix, idem)
    if redis.call('HGET', ikey, 'order') == orderId then redis.call('DEL', ikey) end
  end
end

-- HMGET of a live row: version, status, expireAt, idem, then the extra fields asked for;
-- nil when the row is absent or past its expireAt (then dropped with its key and entry).
local function live_row(prefix, orderId, row, deadlines, now, ...)
  local f = redis.call('HMGET', row, 'version', 'status', 'expireAt', 'idem', ...)
  if not f[1] then return nil end
  if expired(f[3], now) then
    drop_order(prefix, orderId, row, deadlines, f[4])
    return nil
  end
  return f
end
