-- wrk script for run-load.sh: POSTs pre-built FHIR bundles (Content-Type application/fhir+json), cycling
-- through the variants (distinct referral refs), and prints one machine-readable RESULT line at the end.
--
--   wrk ... -s post-bundle.lua http://127.0.0.1:PORT/ocean/1234/fhir -- BODY_PREFIX VARIANTS
--
-- Reads BODY_PREFIX-00.json ... BODY_PREFIX-<VARIANTS-1>.json. The requests are formatted once per thread
-- in init(), so request() only returns a pre-built string (no per-request string building in Lua).

local requests = {}
local next_index = 0

function init(args)
   local prefix, count = args[1], tonumber(args[2] or "1")
   assert(prefix, "usage: -- BODY_PREFIX VARIANTS")
   local headers = { ["Content-Type"] = "application/fhir+json" }
   for i = 0, count - 1 do
      local path = string.format("%s-%02d.json", prefix, i)
      local f = assert(io.open(path, "rb"))
      local body = f:read("*a")
      f:close()
      requests[#requests + 1] = wrk.format("POST", nil, headers, body)
   end
   -- Threads start at different variants.
   next_index = math.random(#requests) - 1
end

function request()
   next_index = next_index + 1
   return requests[(next_index % #requests) + 1]
end

-- errors.status counts responses with a status >= 400 (wrk's rule); the harness expects no 3xx.
function done(summary, latency, _)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d bytes=%d connect_errors=%d read_errors=%d write_errors=%d " ..
      "status_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
end
