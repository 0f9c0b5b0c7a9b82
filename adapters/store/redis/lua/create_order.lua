-- Idempotency-key claim, saga row (version 1, empty sent outbox), view, status count and
-- deadline entry in one atomic write.
-- KEYS: row, deadlines, counts[, idempotency key].
-- ARGV: now, prefix, orderId, snapshot, view, status, wakeAt[, key, bodyHash].
-- Reply: {'created'} | {'claimed', orderId, '1' same body | '0'} | {'exists'}.
local row, deadlines, counts, ikey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, prefix, orderId = tonumber(ARGV[1]), ARGV[2], ARGV[3]

if ikey then
  local claim = redis.call('HMGET', ikey, 'order', 'hash')
  if claim[1] then
    if live_row(prefix, claim[1], order_key(prefix, claim[1]), deadlines, now) then
      return { 'claimed', claim[1], claim[2] == ARGV[9] and '1' or '0' }
    end
    -- The claimed order is gone, and the key lives exactly as long as its order.
    redis.call('DEL', ikey)
  end
end
if live_row(prefix, orderId, row, deadlines, now) then return { 'exists' } end

if ikey then
  redis.call('HSET', row, 'version', '1', 'snapshot', ARGV[4], 'outbox', '[]', 'sent', '1',
    'view', ARGV[5], 'status', ARGV[6], 'idem', ARGV[8])
  redis.call('HSET', ikey, 'order', orderId, 'hash', ARGV[9])
else
  redis.call('HSET', row, 'version', '1', 'snapshot', ARGV[4], 'outbox', '[]', 'sent', '1',
    'view', ARGV[5], 'status', ARGV[6])
end
redis.call('ZADD', deadlines, ARGV[7], orderId)
redis.call('HINCRBY', counts, ARGV[6], 1)
return { 'created' }
