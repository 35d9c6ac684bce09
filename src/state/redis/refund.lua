-- Gives back one request on every limit of a set: TAT minus the interval.
-- KEYS[i]: the TAT of limit i; ARGV[i]: its interval in microseconds.
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat then
    redis.call('SET', KEYS[i], string.format('%.0f', tat - tonumber(ARGV[i])), 'KEEPTTL')
  end
end
return 1
