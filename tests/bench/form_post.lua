-- wrk script for the consent benchmark (driven by tests/bench/bench_consent.py):
-- the same form POST on every request, with one Cookie header.
-- Arguments (after `--`): 1 path, 2 form body (already URL-encoded), 3 Cookie header value.
function init(args)
  wrk.method = "POST"
  wrk.path = args[1]
  wrk.body = args[2]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = args[3]
end
