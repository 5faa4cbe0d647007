-- One page, the same request again and again, for wrk.
--
--   wrk ... -s page.lua URL -- COOKIE [STATUS [BODY]]
--
-- COOKIE is the Cookie header ("" for none); STATUS the answer expected
-- (200 by default); with BODY each request is a form POST (a login). wrk
-- counts a redirect as a success, so every other answer is counted here as
-- "bad": a redirect to the login page means the session did not hold. At the
-- end it prints one line of JSON.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  expected = tonumber(args[2] or "200") or 200
  if args[1] and args[1] ~= "" then
    wrk.headers["Cookie"] = args[1]
  end
  if args[3] then
    wrk.method = "POST"
    wrk.body = args[3]
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

function response(status, headers, body)
  local location = headers["Location"] or ""
  if status ~= expected or string.find(location, "/login", 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"bad": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    total_bad, e.connect + e.read + e.write + e.timeout))
end
