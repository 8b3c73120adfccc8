-- Sends POST /api/{tenant}/oauth2/token with grant_type=client_credentials, the client
-- authenticated by AUTH (the Authorization header value, client_secret_basic). done() prints
-- one JSON line for bench-verify.sh, like verify.lua.
local auth = os.getenv("AUTH") or ""

function request()
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, "grant_type=client_credentials")
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format('RESULT {"rps":%.0f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"errors":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
