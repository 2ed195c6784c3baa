-- wrk: POST /db/k<random of 10k> with a 100-byte value (raftd write).
--   wrk -t2 -c64 -d10s --latency -s bench/put.lua http://LEADER
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "lib.lua")
make_request = function()
  return wrk.format("POST", "/db/" .. bench.key(), nil, bench.value)
end
bench.install()
