-- wrk script for the registration benchmark (driven by tests/bench/bench_registration.py).
--
-- Every request is a registration form POST with its own email address
-- (<prefix>-t<thread>-<n>@example.org), round-robin over the given event
-- slugs, reusing one session cookie and its CSRF token (fetched beforehand).
-- wrk never follows redirects, so the 303 after a successful POST is the
-- final answer; any status outside 200-399 counts as an error.
--
-- Arguments (after `--`):
--   1 path template, "%s" is replaced by the slug (e.g. /events/%s/register)
--   2 comma-separated slugs
--   3 Cookie header value
--   4 CSRF token (already URL-encoded)
--   5 email prefix, unique per run
--   6 quota: total POSTs to send (0 = no limit, run for wrk's -d)
--
-- With a quota each thread sends exactly quota/threads POSTs (connections
-- that would exceed it are parked), then stops and prints "BENCH-THREAD-DONE"
-- so the driver can end wrk at once (wrk itself would sleep for the whole -d).
-- The driver runs quota runs with one thread: see run_wrk() for why. At the end one line "BENCH-RESULT {json}"
-- carries the figures; times are microseconds.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

-- Setup and done phases: one environment shared by the driver's callbacks.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Running phase: each wrk thread has its own copy of everything below.
local paths = {}
local body_head, prefix
local quota, reserved, sent = 0, 0, 0
ok, bad, answered = 0, 0, 0
first_sent_us, last_answer_us = 0, 0
statuses = {}

local function split(text, sep)
  local parts = {}
  for part in string.gmatch(text, "([^" .. sep .. "]+)") do
    table.insert(parts, part)
  end
  return parts
end

function init(args)
  local template, slugs, cookie, csrf = args[1], args[2], args[3], args[4]
  prefix = args[5]
  local total = tonumber(args[6]) or 0
  local nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  if total > 0 then
    -- Spread the quota over the threads; the first ones take the remainder.
    quota = math.floor(total / nthreads)
    if tid <= total % nthreads then
      quota = quota + 1
    end
  end
  for _, slug in ipairs(split(slugs, ",")) do
    table.insert(paths, (string.gsub(template, "%%s", slug)))
  end
  if quota == 0 then
    delay = nil -- no quota: let wrk skip the per-request delay timer
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = cookie
  body_head = "csrf_token=" .. csrf
    .. "&first_name=Bench&organization=Benchmark+Society&job_title=Load+tester"
    .. "&category=member&days=all&dietary=&accessibility=&privacy=y&website=&confirm=yes"
end

function delay()
  -- Called before each request of a connection: reserve a slot or park the
  -- connection for good (the thread stops before the hour is up).
  if quota > 0 then
    if reserved >= quota then
      return 3600000
    end
    reserved = reserved + 1
  end
  return 0
end

function request()
  sent = sent + 1
  if sent == 1 then
    first_sent_us = now_us()
  end
  -- Offset by thread so several threads still cover the slugs evenly.
  local path = paths[((sent + tid - 2) % #paths) + 1]
  local body = body_head .. "&last_name=T" .. tid .. "N" .. sent
    .. "&email=" .. prefix .. "-t" .. tid .. "-" .. sent .. "%40example.org"
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  answered = answered + 1
  last_answer_us = now_us()
  if status >= 200 and status < 400 then
    ok = ok + 1
  else
    bad = bad + 1
  end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if quota > 0 and answered >= quota then
    io.write("BENCH-THREAD-DONE " .. tid .. "\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total_ok, total_bad, total_answered, first, last = 0, 0, 0, nil, nil
  local merged = {}
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    total_answered = total_answered + thread:get("answered")
    local f, l = thread:get("first_sent_us"), thread:get("last_answer_us")
    if f > 0 and (first == nil or f < first) then first = f end
    if l > 0 and (last == nil or l > last) then last = l end
    for code, count in pairs(thread:get("statuses")) do
      merged[code] = (merged[code] or 0) + count
    end
  end
  local codes = {}
  for code, count in pairs(merged) do
    table.insert(codes, string.format('"%s": %d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"answered": %d, "ok": %d, "bad": %d, "window_us": %.0f, '
      .. '"wrk_requests": %d, "wrk_duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "timeouts": %d, "status_errors": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.0f, "statuses": {%s}}\n',
    total_answered, total_ok, total_bad, (last or 0) - (first or 0),
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(codes, ", ")
  ))
  io.stdout:flush()
end
