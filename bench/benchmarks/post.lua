-- wrk script: POST a signed GitHub `issues` webhook with a unique delivery id per request, and count the 202s.
-- Environment: BODY_FILE (the payload, sent byte for byte), SIGNATURE (sha256=<hex> of it).
local threads = {}

function setup(thread)
  thread:set("tag", tostring(#threads) .. "-" .. tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9)))
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  accepted = 0
  other = 0
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

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_accepted, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_accepted = total_accepted + thread:get("accepted")
    total_other = total_other + thread:get("other")
  end
  io.write(string.format("RESULT requests=%d accepted=%d other=%d p50_ms=%.3f p99_ms=%.3f duration_s=%.3f "
    .. "errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
    summary.requests, total_accepted, total_other, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
