-- GCRA for every limit of one limit set, atomically, on the server's clock.
-- KEYS[i]: the TAT of limit i (microseconds since the Unix epoch).
-- ARGV[3i-2], ARGV[3i-1], ARGV[3i]: interval, tolerance (burst x interval)
-- and max_delay of limit i, in microseconds.
-- Returns {1, 0, delay_us} when every limit accepts (all charged), or
-- {0, i, retry_after_us} for the first limit that rejects (nothing charged).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
local delay = 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i - 2])
  local tolerance = tonumber(ARGV[3 * i - 1])
  local max_delay = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local ahead = new_tat - now
  if ahead > tolerance + max_delay then
    return {0, i - 1, ahead - tolerance - max_delay}
  end
  if ahead > tolerance and ahead - tolerance > delay then
    delay = ahead - tolerance
  end
  tats[i] = new_tat
end
for i = 1, #KEYS do
  -- Expires when the key is back at rest: idle keys cost nothing.
  local ttl_ms = math.floor((tats[i] - now) / 1000) + 1
  -- '%.0f': a plain Lua number would be written with 14 digits only.
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', ttl_ms)
end
return {1, 0, delay}
