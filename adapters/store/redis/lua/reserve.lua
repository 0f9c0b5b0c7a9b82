-- Reserve every item of an order or none, once per orderId (rules `idempotent-effects` and
-- `scripts-guarantee`, docs/architecture.md).
-- KEYS[1..n]: the order's stock record in each product's slot; KEYS[n+1..2n]: the products.
-- ARGV: now, then per product: productId, quantity (its total in the order). New records
-- get no expiry: their clock starts when the order is terminal (retain_effect.lua).
-- Reply: {'ok'} | {'refused', code, message} | {'cancelled'} (an undo came first).
local now = tonumber(ARGV[1])
local n = #KEYS / 2

for i = 1, n do
  local rec = live_effect(KEYS[i], now)
  if rec then
    if rec.kind == 'reserved' then return { 'ok' } end
    if rec.kind == 'refused' then return { 'refused', rec.code, rec.message } end
    return { 'cancelled' }
  end
end

local function refuse(code, message)
  for i = 1, n do
    redis.call('HSET', KEYS[i], 'kind', 'refused', 'code', code, 'message', message)
  end
  return { 'refused', code, message }
end

-- Quantities are positive integers; a total past 2^53-1 can only be refused (no stock is
-- that high), so it is compared but never subtracted.
local stocks = {}
for i = 1, n do
  local q = tonumber(ARGV[1 + 2 * i])
  if not q or q < 1 or q ~= math.floor(q) or q == math.huge then
    error('quantity must be a positive integer, got ' .. tostring(ARGV[1 + 2 * i]))
  end
  local stock = redis.call('HGET', KEYS[n + i], 'stock')
  if not stock then return refuse('UNKNOWN_PRODUCT', 'unknown product ' .. ARGV[2 * i]) end
  stocks[i] = stock
end
for i = 1, n do
  local q = ARGV[1 + 2 * i]
  if counter(stocks[i]) < tonumber(q) then
    return refuse('OUT_OF_STOCK', 'product ' .. ARGV[2 * i] .. ' has ' .. stocks[i] .. ' in stock, ' .. q .. ' asked')
  end
  counter(q) -- what will be subtracted is canonical: fail here, before any write
end
for i = 1, n do
  local q = ARGV[1 + 2 * i]
  debit(KEYS[n + i], 'stock', q)
  redis.call('HSET', KEYS[i], 'kind', 'reserved', 'qty', q, 'released', '0')
end
return { 'ok' }
