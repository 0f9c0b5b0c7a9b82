-- Marks the outbox of that version sent; a no-op if the saga has moved on.
-- KEYS: row, deadlines. ARGV: now, prefix, orderId, version. Reply: 1 marked, else 0.
local f = live_row(ARGV[2], ARGV[3], KEYS[1], KEYS[2], tonumber(ARGV[1]))
if not f or f[1] ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'sent', '1')
-- A finished order whose outbox went out needs nothing but its view: drop the snapshot
-- and the outbox (loadSaga then answers a null snapshot), so it keeps little memory.
local status = f[2]
if status == 'COMPLETED' or status == 'REJECTED' or status == 'CANCELLED' then
  redis.call('HSET', KEYS[1], 'snapshot', 'null', 'outbox', '[]')
end
return 1
