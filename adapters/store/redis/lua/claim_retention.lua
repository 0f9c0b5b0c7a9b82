-- Leases up to `limit` entries of the retention index due at `due` (lowest score first) by
-- moving their score to the lease end; an entry is removed only once its effect records
-- are retained (ZREM by the caller), so a caller that dies mid-way only delays it.
-- One slot: the retention index alone.
-- KEYS: retention. ARGV: due, limit, leaseEnd. Reply: the claimed entries.
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, entry in ipairs(entries) do redis.call('ZADD', KEYS[1], ARGV[3], entry) end
return entries
