-- Reads a live order: its view, or its saga (version, snapshot, outbox, sent).
-- KEYS: row, deadlines. ARGV: now, prefix, orderId, 'view' | 'saga'. Reply: nil if none.
local now, prefix, orderId = tonumber(ARGV[1]), ARGV[2], ARGV[3]
if ARGV[4] == 'view' then
  local f = live_row(prefix, orderId, KEYS[1], KEYS[2], now, 'view')
  if not f then return false end
  return f[5]
end
local f = live_row(prefix, orderId, KEYS[1], KEYS[2], now, 'snapshot', 'outbox', 'sent')
if not f then return false end
return { f[1], f[5], f[6], f[7] }
