-- wrk: etcd v2 PUT /v2/keys/k<random of 10k> with form body value=<100 bytes>.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "lib.lua")
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
local body = "value=" .. bench.value
make_request = function()
  return wrk.format("PUT", "/v2/keys/" .. bench.key(), headers, body)
end
bench.install()
