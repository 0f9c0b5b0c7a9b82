-- Charge a user once per orderId, never below zero; refusals are recorded and repeated.
-- KEYS[1]: the payment record in the user's slot; KEYS[2]: the user.
-- ARGV: now, userId, amount (as the caller wrote it; checked here). A new record gets no
-- expiry: its clock starts when the order is terminal (retain_effect.lua).
-- Reply: {'ok'} | {'refused', code, message} | {'cancelled'} (a refund came first).
local now, userId, asked = tonumber(ARGV[1]), ARGV[2], ARGV[3]

local rec = live_effect(KEYS[1], now)
if rec then
  if rec.kind == 'charged' then return { 'ok' } end
  if rec.kind == 'refused' then return { 'refused', rec.code, rec.message } end
  return { 'cancelled' }
end

local function refuse(code, message)
  redis.call('HSET', KEYS[1], 'kind', 'refused', 'code', code, 'message', message)
  return { 'refused', code, message }
end

local balance = redis.call('HGET', KEYS[2], 'balance')
if not balance then return refuse('UNKNOWN_USER', 'unknown user ' .. userId) end
local n = amount(asked)
if n == nil then return refuse('LIMIT_EXCEEDED', 'amount ' .. asked .. ' is not an integer in 0..' .. MAX_STR) end
if counter(balance) < n then
  return refuse('INSUFFICIENT_BALANCE', 'user ' .. userId .. ' has a balance of ' .. balance .. ', ' .. asked .. ' asked')
end
debit(KEYS[2], 'balance', asked)
redis.call('HSET', KEYS[1], 'kind', 'charged', 'amount', asked, 'refunded', '0')
return { 'ok' }
