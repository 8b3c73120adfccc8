-- Sends POST /api/verify. With KEYS_FILE set, every request verifies the next key of the
-- file (each thread starting at its own offset): a cold cache. Without it, every request
-- verifies HOT_KEY: a warm cache. done() prints one JSON line for bench-verify.sh.
local keys = {}
local file = os.getenv("KEYS_FILE")
if file and file ~= "" then
  for line in io.lines(file) do keys[#keys + 1] = line end
end
local hot = os.getenv("HOT_KEY") or ""
-- With CLIENT_IP set, every request says the key was presented from that address.
local ip = os.getenv("CLIENT_IP") or ""
local extra = ""
if ip ~= "" then extra = ',"ip":"' .. ip .. '"' end
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", #threads * 1000003)
  threads[#threads + 1] = thread
end

function init(args)
  counter = offset or 0
end

function request()
  local key = hot
  if #keys > 0 then
    counter = counter + 1
    key = keys[(counter % #keys) + 1]
  end
  return wrk.format("POST", "/api/verify", { ["Content-Type"] = "application/json" }, '{"key":"' .. key .. '"' .. extra .. '}')
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format('RESULT {"rps":%.0f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"errors":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
