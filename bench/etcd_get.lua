-- wrk: etcd v2 GET /v2/keys/k<random of 10k>?quorum=true (linearizable read).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "lib.lua")
make_request = function()
  return wrk.format("GET", "/v2/keys/" .. bench.key() .. "?quorum=true")
end
bench.install()
