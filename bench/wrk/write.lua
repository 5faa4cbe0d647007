-- A propose-then-accept write, for wrk with one connection per thread
-- (-t N -c N): Sam opens the change form of an agreement (a fresh form, so a
-- fresh CSRF token and submission token) and proposes a change; Alex opens
-- the agreement and accepts it. Each thread works through its own agreements
-- in turn, so no two writes race for one agreement.
--
--   wrk -tN -cN ... -s write.lua URL -- SAM_COOKIE ALEX_COOKIE LEDGER IDS THREADS
--
-- IDS are agreement ids, comma-separated. wrk's own latency counts every
-- request (two pages, two posts); the two posts are timed here (LuaJIT's
-- clock) and reported apart, as the writes. At the end it prints one line of
-- JSON.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } ledger_timespec;
int clock_gettime(int clock, ledger_timespec *tp);
]]
local clock = ffi.new("ledger_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function hidden(body, name)
  return string.match(body, 'name="' .. name .. '" type="hidden" value="([^"]*)"')
end

local function encode(value)
  return (string.gsub(value, "[^%w%-_%.~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

local function form(fields)
  local parts = {}
  for _, pair in ipairs(fields) do
    table.insert(parts, pair[1] .. "=" .. encode(pair[2]))
  end
  return table.concat(parts, "&")
end

function init(args)
  sam, alex, ledger = args[1], args[2], args[3]
  agreements = {}
  for value in string.gmatch(args[4], "%d+") do
    table.insert(agreements, value)
  end
  stride = tonumber(args[5])
  turn = id  -- this thread's agreements: id, id + stride, ...
  step, bad, cycles, writes = "form", 0, 0, {}
end

local function agreement_path()
  local agreement = agreements[((turn - 1) % #agreements) + 1]
  return "/ledgers/" .. ledger .. "/agreements/" .. agreement
end

local function post(path, cookie, body)
  started = now_ms()
  return wrk.format("POST", path, {
    ["Cookie"] = cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end

function request()
  local path = agreement_path()
  if step == "form" then
    return wrk.format("GET", path .. "/change", {["Cookie"] = sam})
  elseif step == "propose" then
    return post(path .. "/change", sam, body)
  elseif step == "read" then
    return wrk.format("GET", path, {["Cookie"] = alex})
  end
  return post(path .. "/revisions/" .. number .. "/answer", alex, body)
end

local function start_over()
  bad = bad + 1
  step = "form"
end

function response(status, headers, page)
  local location = headers["Location"] or ""
  if step == "form" then
    local token = hidden(page, "csrf_token")
    if status ~= 200 or not token then return start_over() end
    cycles = cycles + 1
    body = form({
      {"csrf_token", token},
      {"base", hidden(page, "base") or ""},
      {"submission", hidden(page, "submission") or ""},
      {"title", "Our Sunday check-in"},
      {"text", "Half an hour, every Sunday, change " .. id .. "." .. cycles .. "."},
      {"reason", ""},
      {"action", "propose"},
    })
    step = "propose"
  elseif step == "propose" then
    -- Proposed: back to the agreement's page (not a draft, not a conflict).
    if status ~= 302 or not string.match(location, "/agreements/%d+$") then
      return start_over()
    end
    table.insert(writes, now_ms() - started)
    step = "read"
  elseif step == "read" then
    local token, seen = hidden(page, "csrf_token"), hidden(page, "content_hash")
    number = string.match(page, "/revisions/(%d+)/answer")
    if status ~= 200 or not (token and seen and number) then return start_over() end
    body = form({
      {"csrf_token", token},
      {"decision", "accept"},
      {"note", ""},
      {"content_hash", seen},
    })
    step = "answer"
  else
    if status ~= 302 or not string.match(location, "/agreements/%d+$") then
      return start_over()
    end
    table.insert(writes, now_ms() - started)
    turn = turn + stride
    step = "form"
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  return sorted[math.max(1, math.ceil(#sorted * p / 100))]
end

function done(summary, latency, requests)
  local all, total_bad = {}, 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
    for _, ms in ipairs(thread:get("writes")) do
      table.insert(all, ms)
    end
  end
  table.sort(all)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"writes": %d, "write_p50_ms": %.3f, "write_p99_ms": %.3f, ' ..
    '"bad": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    #all, percentile(all, 50), percentile(all, 99),
    total_bad, e.connect + e.read + e.write + e.timeout))
end
