-- wrk script used by bench/run for every throughput cell.
--   * If BENCH_BODY_FILE is set, every request is a POST of that file's
--     content with Content-Type: application/json (the `body` scenario).
--   * done() prints one JSON line, prefixed with "BENCH_JSON ", that
--     bench/run stores in bench/results/raw/.
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end

-- No response() hook on purpose: defining one makes wrk parse every
-- response in Lua and turns the load generator into the bottleneck.
-- summary.errors.status already counts responses with status >= 400.

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.6f,"rps":%.2f,' ..
    '"p50_ms":%.4f,"p90_ms":%.4f,"p99_ms":%.4f,"max_ms":%.4f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"bytes":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, summary.bytes))
end
