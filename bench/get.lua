-- wrk: GET /db/k<random of 10k> (raftd linearizable read, ReadIndex).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "lib.lua")
make_request = function()
  return wrk.format("GET", "/db/" .. bench.key())
end
bench.install()
