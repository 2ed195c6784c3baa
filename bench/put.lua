-- wrk: POST /db/k<random of 10k> with a 100-byte value.
math.randomseed(os.time())
local value = string.rep("x", 100)
request = function()
  local key = "k" .. math.random(0, 9999)
  return wrk.format("POST", "/db/" .. key, nil, value)
end
