-- Create the products and users that do not exist yet; everything is checked first, so
-- a bad value leaves no half seed.
-- KEYS: products then users. ARGV: number of products, then stock, price per product,
-- then balance per user. Reply: how many were created.
local np = tonumber(ARGV[1])
for i = 2, #ARGV do
  if amount(ARGV[i]) == nil then error('not an integer in 0..' .. MAX_STR .. ': ' .. ARGV[i]) end
end
local created = 0
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    if i <= np then
      redis.call('HSET', KEYS[i], 'stock', ARGV[2 * i], 'price', ARGV[2 * i + 1])
    else
      redis.call('HSET', KEYS[i], 'balance', ARGV[1 + 2 * np + (i - np)])
    end
    created = created + 1
  end
end
return created
