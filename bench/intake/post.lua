-- wrk script: POST a signed GitHub `issues` webhook with a unique delivery id per request.
-- Environment: BODY_FILE (the payload), SIGNATURE (sha256=<hex> of it), THREAD_TAG set per thread below.
local counter = 0
local tag = ""
local body = nil

function setup(thread)
  thread:set("tag", tostring(math.random(1, 1e9)) .. "-" .. tostring(os.time()))
end

function init(args)
  tag = wrk.thread:get("tag") or tostring(math.random(1, 1e9))
  local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
  body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-GitHub-Event"] = "issues"
  wrk.headers["X-Hub-Signature-256"] = os.getenv("SIGNATURE")
end

function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = tag .. "-" .. counter
  return wrk.format(nil, nil, nil, body)
end

responses = {}
function response(status, headers, body)
  responses[status] = (responses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("LATENCY p50_ms=%.3f p99_ms=%.3f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  io.write(string.format("REQUESTS total=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
