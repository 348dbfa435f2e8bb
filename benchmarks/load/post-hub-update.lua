-- wrk script for run-hub-load.sh: POSTs hub decisions to the ingress's hub API,
--   POST <prefix>/referrals/{ref}/accept   {"update_id":"…","import_to_emr":true}
-- with a distinct referral ref and update id in every request, an api_key header, and prints one
-- machine-readable RESULT line at the end (the same fields as post-bundle.lua).
--
--   wrk ... -s post-hub-update.lua http://127.0.0.1:PORT -- PATH_PREFIX API_KEY RUN_TAG
--
-- Refs and ids are "<RUN_TAG>-<thread>-<n>": RUN_TAG tells runs apart (warm-up, measured), the thread
-- number tells wrk's threads apart. Every request is formatted with wrk.format (a few µs of wrk's CPU).

local counter = 1
local threads = {}

function setup(thread)
   thread:set("thread_id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local prefix, headers, tag
local n = 0

function init(args)
   prefix, tag = args[1], args[3]
   assert(prefix and args[2] and tag, "usage: -- PATH_PREFIX API_KEY RUN_TAG")
   headers = { ["Content-Type"] = "application/json", ["X-Api-Key"] = args[2] }
   tag = tag .. "-" .. tostring(thread_id)
end

function request()
   n = n + 1
   local id = tag .. "-" .. n
   return wrk.format("POST", prefix .. "/referrals/ref-" .. id .. "/accept", headers,
                     '{"update_id":"upd-' .. id .. '","import_to_emr":true}')
end

-- errors.status counts responses with a status >= 400 (wrk's rule); the harness expects 202s.
function done(summary, latency, _)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d bytes=%d connect_errors=%d read_errors=%d write_errors=%d " ..
      "status_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
end
