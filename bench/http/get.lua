-- wrk script: GET a uniformly random key among KEYS keys named key-%08d
-- (http_bench.sh loads them first).
local n = tonumber(os.getenv("KEYS") or "100000")
local next_thread = 0

function setup(thread)
  thread:set("seed", 7919 * (next_thread + 1))
  next_thread = next_thread + 1
end

function init(args)
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", string.format("/v1/kv/key-%08d", math.random(0, n - 1)))
end
