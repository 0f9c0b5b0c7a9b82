-- Give back what this order's reservation took, once; an undo that finds no record
-- leaves tombstones, so a late reserve is refused.
-- KEYS[1..n]: the order's stock records; KEYS[n+1..2n]: the products. ARGV: now, expireAt, ttlMs.
-- Reply: 1 when this call gave something back, else 0.
local now, expireAt, ttl = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local n = #KEYS / 2
local found, undone = false, 0

for i = 1, n do
  local rec = live_effect(KEYS[i], now)
  if rec then
    found = true
    if rec.kind == 'reserved' and rec.released == '0' then
      credit(KEYS[n + i], 'stock', rec.qty)
      redis.call('HSET', KEYS[i], 'released', '1', 'expireAt', expireAt)
      redis.call('PEXPIRE', KEYS[i], ttl)
      undone = 1
    end
  end
end
if not found then
  for i = 1, n do
    redis.call('HSET', KEYS[i], 'kind', 'tombstone', 'expireAt', expireAt)
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return undone
