-- wrk script of the http_ingest bench, case single_event: every request publishes one distinct
-- triple. BENCH_MODE=ledgraph: POST /v1/events with an N-Triples body; BENCH_MODE=oxigraph:
-- POST /update with one SPARQL INSERT DATA. BENCH_RUN keeps subjects of different runs apart.
-- No response() callback: defining one makes wrk parse every response body.
-- done() prints one line "BENCH_RESULT {json}" that benches/http_ingest.rs reads.

local mode = os.getenv("BENCH_MODE") or "ledgraph"
local run = os.getenv("BENCH_RUN") or "0"
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  counter = 0
  if mode == "oxigraph" then
    path = "/update"
    headers = { ["Content-Type"] = "application/sparql-update" }
  else
    path = "/v1/events"
    headers = { ["Content-Type"] = "application/n-triples" }
  end
end

function request()
  counter = counter + 1
  local triple = string.format(
    '<http://bench.ledgraph.example/event/r%s-t%d-n%d> <http://bench.ledgraph.example/vocab#value> "%d"^^<http://www.w3.org/2001/XMLSchema#integer> .',
    run, thread_id, counter, counter)
  local body
  if mode == "oxigraph" then
    body = "INSERT DATA { " .. triple .. " }"
  else
    body = triple .. "\n"
  end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"latency_p50_us":%d,' ..
    '"latency_p99_us":%d,"latency_mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
