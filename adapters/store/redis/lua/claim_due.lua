-- Leases up to `limit` entries due at `due`, lowest score first, by moving their score to
-- the lease end; an entry is never removed for a claim. Entries whose row is gone (or
-- expired) are dropped on the way. All are taken before any is moved, so a lease ending
-- at or before `due` still hands each entry out once per call.
-- KEYS: deadlines. ARGV: now (the store's clock), due, limit, leaseEnd, prefix.
-- Reply: the claimed orderIds.
local deadlines = KEYS[1]
local now, due, limit, leaseEnd, prefix = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local claimed = {}
while #claimed < limit do
  local want = limit - #claimed
  -- Claimed entries keep their place until the end, so skip past them.
  local ids = redis.call('ZRANGEBYSCORE', deadlines, '-inf', due, 'LIMIT', #claimed, want)
  for _, id in ipairs(ids) do
    local row = order_key(prefix, id)
    if live_row(prefix, id, row, deadlines, now) then
      claimed[#claimed + 1] = id
    else
      redis.call('ZREM', deadlines, id)
    end
  end
  if #ids < want then break end
end
for _, id in ipairs(claimed) do redis.call('ZADD', deadlines, leaseEnd, id) end
return claimed
