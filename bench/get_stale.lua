-- wrk: GET /db/k<random of 10k>?consistency=stale (raftd local read).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "lib.lua")
make_request = function()
  return wrk.format("GET", "/db/" .. bench.key() .. "?consistency=stale")
end
bench.install()
