-- Shared wrk hooks for the bench scripts (loaded with dofile by put.lua etc.).
--
-- Each script sets `make_request` (a function returning wrk.format(...)) and
-- calls bench.install(). That defines wrk's setup/init/request/response/done:
--   * every thread seeds its own random sequence;
--   * response() counts the answers by HTTP status, so a 3xx (which wrk
--     itself counts as a success) is visible too;
--   * done() prints the usual wrk report's numbers as one machine-readable
--     line: BENCHJSON {"requests":..,"duration_us":..,"p50_us":..,...}.
-- Keys are "k0".."k9999" unless BENCH_KEYS says otherwise; values are
-- BENCH_VALUE_SIZE (default 100) bytes.

bench = {}

bench.keys = tonumber(os.getenv("BENCH_KEYS") or "") or 10000
bench.value = string.rep("x", tonumber(os.getenv("BENCH_VALUE_SIZE") or "") or 100)

local threads = {}

function bench.key()
  return "k" .. math.random(0, bench.keys - 1)
end

-- The JSON text of a flat table of numbers (and a nested table of numbers).
local function json(t)
  local parts = {}
  for k, v in pairs(t) do
    if type(v) == "table" then
      parts[#parts + 1] = string.format('"%s":%s', tostring(k), json(v))
    else
      parts[#parts + 1] = string.format('"%s":%s', tostring(k),
                                        string.format("%.0f", v))
    end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
bench.json = json

function bench.install()
  setup = function(thread)
    threads[#threads + 1] = thread
    thread:set("tid", #threads)
  end

  init = function(args)
    bench.args = args
    math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
    statuses = {}
    if bench.init then bench.init(args) end
  end

  request = function()
    return make_request()
  end

  response = function(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if bench.on_response then bench.on_response(status) end
  end

  done = function(summary, latency, requests)
    local by_status = {}
    for _, t in ipairs(threads) do
      local st = t:get("statuses") or {}
      for code, n in pairs(st) do
        by_status[tostring(code)] = (by_status[tostring(code)] or 0) + n
      end
    end
    local e = summary.errors
    io.write("BENCHJSON ", json({
      requests = summary.requests,
      duration_us = summary.duration,
      bytes = summary.bytes,
      connect_errors = e.connect, read_errors = e.read,
      write_errors = e.write, status_errors = e.status,
      timeouts = e.timeout,
      p50_us = latency:percentile(50), p90_us = latency:percentile(90),
      p99_us = latency:percentile(99), p999_us = latency:percentile(99.9),
      max_us = latency.max, mean_us = latency.mean,
      statuses = by_status,
    }), "\n")
  end
end
