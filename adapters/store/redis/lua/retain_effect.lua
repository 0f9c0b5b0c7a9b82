-- Starts the clock of one effect record of a finished order: it expires at `expireAt`
-- (its order's terminal time + the effect retention), or later if it already would, and
-- at once if that time has passed. Idempotent; an absent record is left absent.
-- One slot: the record alone (its counter's slot).
-- KEYS[1]: the effect record. ARGV: now, expireAt, ttlMs (expireAt - now + margin).
-- Reply: 1 when this call moved the record's expiry or deleted it, else 0.
local now, expireAt = tonumber(ARGV[1]), tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[1], 'kind', 'expireAt')
if not f[1] or (f[2] and tonumber(f[2]) >= expireAt) then return 0 end
if expireAt <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'expireAt', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
