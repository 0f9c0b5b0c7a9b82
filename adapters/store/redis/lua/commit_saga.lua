-- Compare-and-set on the version: snapshot, outbox (unsent unless empty), view, status
-- counts, deadline entry, retention of a terminal order and its entry in the retention
-- index; then `<orderId> <view>` is published on the views channel (rules `store-is-truth`,
-- `outbox-in-snapshot`, `deadlines-are-data`, `idempotent-effects`; docs/architecture.md).
-- KEYS: row, deadlines, counts, retention.
-- ARGV: now, prefix, orderId, expectedVersion, snapshot, outbox, sent ('1'|'0'), view,
--       status, wakeAt ('' for none), terminal ('1'|'0'), expireAt, ttlMs, views channel,
--       retention entry (names the order's effect records and its terminal time).
-- Four slots, like every index write: the row and the indexes must change in one atomic
-- step (an index entry never lost, never without its row). A Cluster would need the
-- indexes split per slot, or an outbox-like step; see keys.ts.
-- Reply: 1 written, 0 lost (no such order, or another version).
local row, deadlines, counts, retention = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, prefix, orderId = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local status, wakeAt, terminal = ARGV[9], ARGV[10], ARGV[11] == '1'

local f = live_row(prefix, orderId, row, deadlines, now)
if not f or f[1] ~= ARGV[4] then return 0 end

if terminal or wakeAt == '' then
  redis.call('ZREM', deadlines, orderId)
else
  redis.call('ZADD', deadlines, wakeAt, orderId)
end
if f[2] ~= status then
  redis.call('HINCRBY', counts, f[2], -1)
  redis.call('HINCRBY', counts, status, 1)
end
redis.call('HINCRBY', row, 'version', 1)
redis.call('HSET', row, 'snapshot', ARGV[5], 'outbox', ARGV[6], 'sent', ARGV[7], 'view', ARGV[8], 'status', status)
-- A terminal status never changes; a non-terminal commit leaves a running retention alone.
if terminal then
  redis.call('HSET', row, 'expireAt', ARGV[12])
  redis.call('PEXPIRE', row, ARGV[13])
  if f[4] then redis.call('PEXPIRE', idem_key(prefix, f[4]), ARGV[13]) end
  -- The effect records sit in their counters' slots, so their clock is started later, by
  -- retain_effect.lua for each of them; this entry is what makes sure it happens.
  redis.call('ZADD', retention, ARGV[1], ARGV[15])
end
-- The message format is watchers.ts's viewMessage.
redis.call('PUBLISH', ARGV[14], orderId .. ' ' .. ARGV[8])
return 1
