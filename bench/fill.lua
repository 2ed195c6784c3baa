-- wrk loader: writes the keys <prefix>0 .. <prefix>N-1 (each thread its own
-- contiguous slice), then stops its thread and touches $BENCH_FILL_MARK.<tid>
-- so the caller can stop wrk (wrk itself always runs for -d).
--   wrk -t T -c C -d 600s -s bench/fill.lua URL -- raftd|etcd N T [prefix]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "lib.lua")
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
local lo, size, i, ok, system, prefix, finished
bench.init = function(args)
  system = args[1] or "raftd"
  local n = tonumber(args[2] or "10000")
  local nthreads = tonumber(args[3] or "1")
  prefix = args[4] or "k"
  lo = math.floor((tid - 1) * n / nthreads)
  size = math.floor(tid * n / nthreads) - lo
  i, ok, finished = 0, 0, false
end
make_request = function()
  local key = prefix .. (lo + i % size)
  i = i + 1
  if system == "etcd" then
    return wrk.format("PUT", "/v2/keys/" .. key, headers, "value=" .. bench.value)
  end
  return wrk.format("POST", "/db/" .. key, nil, bench.value)
end
bench.on_response = function(status)
  if status >= 200 and status < 300 then ok = ok + 1 end
  if ok >= size and not finished then
    finished = true
    local mark = os.getenv("BENCH_FILL_MARK")
    if mark then
      local f = io.open(mark .. "." .. tid, "w")
      if f then f:write(ok, "\n"); f:close() end
    end
    wrk.thread:stop()
  end
end
bench.install()
