-- Give back what this order's reservation took, once; an undo that finds no record
-- leaves tombstones, so a late reserve is refused.
-- KEYS[1..n]: the order's stock records; KEYS[n+1..2n]: the products. ARGV: now.
-- New records get no expiry, and HSET keeps the one an existing record has
-- (retain_effect.lua sets it).
-- Reply: 1 when this call gave something back, else 0.
local now = tonumber(ARGV[1])
local n = #KEYS / 2
local found, undone = false, 0

for i = 1, n do
  local rec = live_effect(KEYS[i], now)
  if rec then
    found = true
    if rec.kind == 'reserved' and rec.released == '0' then
      credit(KEYS[n + i], 'stock', rec.qty)
      redis.call('HSET', KEYS[i], 'released', '1')
      undone = 1
    end
  end
end
if not found then
  for i = 1, n do
    redis.call('HSET', KEYS[i], 'kind', 'tombstone')
  end
end
return undone
