-- Give back what this order's charge took, once (capped at 2^53-1); an undo that finds
-- no record leaves a tombstone, so a late charge is refused.
-- KEYS[1]: the payment record; KEYS[2]: the user. ARGV: now. A new record gets no expiry,
-- and HSET keeps the expiry an existing one has (retain_effect.lua sets it).
-- Reply: 1 when this call gave something back, else 0.
local now = tonumber(ARGV[1])

local rec = live_effect(KEYS[1], now)
if not rec then
  redis.call('HSET', KEYS[1], 'kind', 'tombstone')
  return 0
end
if rec.kind ~= 'charged' or rec.refunded ~= '0' then return 0 end
credit(KEYS[2], 'balance', rec.amount)
redis.call('HSET', KEYS[1], 'refunded', '1')
return 1
