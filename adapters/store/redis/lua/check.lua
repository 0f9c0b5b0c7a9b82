-- Put in front of an effect script (reserve_checked = check + reserve, charge_checked =
-- check + charge; scripts.ts): the command's OrderCheck (src/order-check.ts) is compared
-- with the stored order's view first, and the effect runs only if they agree, in the same
-- atomic step (rule `idempotent-effects`, docs/architecture.md). It compares what
-- orderMismatch compares: the user, the items (the same lines in any order) if given, the
-- total if given. It takes its own keys and arguments off the end of KEYS and ARGV, so the
-- effect after it sees exactly its usual ones (ARGV[1], its `now`, included).
-- KEYS (after the effect's): the order's row, deadlines.
-- ARGV (after the effect's): prefix, orderId, userId, total ('' for none), then
--   productId, quantity per item, then the number of items (0 for none).
-- Reply when they disagree: {'mismatch', view JSON} | {'no-order'}; else the effect's.
-- Two more slots than the effect's own: the order's row is in its own slot (see keys.ts).
do
  local deadlines = table.remove(KEYS)
  local row = table.remove(KEYS)
  local n = tonumber(table.remove(ARGV))
  local items = {}
  for _ = 1, n do
    local quantity = tonumber(table.remove(ARGV))
    items[table.remove(ARGV)] = quantity
  end
  local total = table.remove(ARGV)
  local userId = table.remove(ARGV)
  local orderId = table.remove(ARGV)
  local prefix = table.remove(ARGV)

  local f = live_row(prefix, orderId, row, deadlines, tonumber(ARGV[1]), 'view')
  if not f then return { 'no-order' } end
  local view = cjson.decode(f[5])
  local agreed = view.userId == userId
  if agreed and n > 0 then
    -- The ids are distinct on both sides (the Items schema), so equal counts and every
    -- stored line found with its quantity mean the same lines.
    agreed = #view.items == n
    for _, item in ipairs(view.items) do
      if items[item.productId] ~= item.quantity then agreed = false end
    end
  end
  if agreed and total ~= '' then
    agreed = type(view.totalPrice) == 'number' and view.totalPrice == tonumber(total)
  end
  if not agreed then return { 'mismatch', f[5] } end
end
