-- Shared by every workload: the target's SCIM base path and token from the
-- environment (set by bench/peers/run), a per-thread number, and a summary line
-- the harness parses.
--
--   PEERS_BASE   SCIM base path on the server: /scim/v2 (Roster) or /v2 (scim2-server)
--   PEERS_TOKEN  bearer token; empty for unauthenticated workloads
--   PEERS_DATA   folder holding ids.txt and names.txt of the seeded users
--   PEERS_RUN    a string unique to this run, so created userNames never repeat

base = os.getenv("PEERS_BASE") or ""
data = os.getenv("PEERS_DATA") or "."
run_id = os.getenv("PEERS_RUN") or tostring(os.time())

local token = os.getenv("PEERS_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
wrk.headers["Accept"] = "application/scim+json"

-- setup runs once per thread in the main state; the number it hands over makes
-- each thread start elsewhere in the rotation and name its users apart.
local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

function read_lines(file)
  local lines = {}
  for line in io.lines(data .. "/" .. file) do
    lines[#lines + 1] = line
  end
  assert(#lines > 0, file .. " is empty")
  return lines
end

-- A rotation of request paths, one per line of `file` made by to_path(line),
-- each thread starting at its own place in it: init() calls rotate(file,
-- to_path), request() takes next_path().
local rotation, at
function rotate(file, to_path)
  rotation = {}
  for _, line in ipairs(read_lines(file)) do
    rotation[#rotation + 1] = to_path(line)
  end
  at = (thread_no * 7919) % #rotation
end

function next_path()
  at = at % #rotation + 1
  return rotation[at]
end

function url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

-- One line of JSON for the harness: requests, seconds, and every kind of failure
-- wrk counts (status is any answer of 400 or more).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'PEERS_RESULT {"requests": %d, "seconds": %.3f, "status_errors": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"timeouts": %d, "latency_p50_ms": %.3f, "latency_p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
