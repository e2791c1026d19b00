-- wrk script: PUT a fresh key per request (bench-<thread>-<n>) with a value
-- of VALUE_SIZE bytes (default 100). QUERY is appended to the path, e.g.
-- "?durable=false".
local value = string.rep("v", tonumber(os.getenv("VALUE_SIZE") or "100"))
local query = os.getenv("QUERY") or ""
local next_thread = 0
local counter = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function request()
  counter = counter + 1
  return wrk.format("PUT", "/v1/kv/bench-" .. tid .. "-" .. counter .. query, nil, value)
end
