-- Give back what this order's charge took, once (capped at 2^53-1); an undo that finds
-- no record leaves a tombstone, so a late charge is refused.
-- KEYS[1]: the payment record; KEYS[2]: the user. ARGV: now, expireAt, ttlMs.
-- Reply: 1 when this call gave something back, else 0.
local now, expireAt, ttl = tonumber(ARGV[1]), ARGV[2], ARGV[3]

local rec = live_effect(KEYS[1], now)
if not rec then
  redis.call('HSET', KEYS[1], 'kind', 'tombstone', 'expireAt', expireAt)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 0
end
if rec.kind ~= 'charged' or rec.refunded ~= '0' then return 0 end
credit(KEYS[2], 'balance', rec.amount)
redis.call('HSET', KEYS[1], 'refunded', '1', 'expireAt', expireAt)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
