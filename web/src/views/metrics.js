// The metrics view: ingest rate, commit latency percentiles and projection lag, sampled from
// the Prometheus text of /metrics while the view is open, and the per-transaction latencies of
// the named query metrics/transaction-latency (queries/metrics/transaction-latency.rq, run by the
// server through GET /v1/queries/…, so the UI never carries a copy of its text).

import { request, errorBox } from "../api.js";
import { el, clear } from "../dom.js";
import { lineChart } from "../chart.js";
import { renderAnswer, ACCEPT } from "../results.js";

const SAMPLE_MS = 2000;
/** Transactions drawn in the per-transaction chart (the newest). */
const TRANSACTIONS_CHARTED_MAX = 200;

/** Seconds of an xsd:dayTimeDuration ("PT0.002S", "P1DT2H3M4.5S", "-PT1S"). */
export function durationSeconds(text) {
  const m = /^(-?)P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text || "");
  if (!m) return NaN;
  const [, sign, d, h, min, sec] = m;
  const total = Number(d || 0) * 86400 + Number(h || 0) * 3600 + Number(min || 0) * 60 + Number(sec || 0);
  return sign ? -total : total;
}

/** A parsed SPARQL JSON answer as a Response again, for renderAnswer. */
function jsonResponse(json) {
  return new Response(JSON.stringify(json), { headers: { "content-type": "application/sparql-results+json" } });
}
/** Samples kept per chart (two minutes at one per 2 s). */
const SAMPLES_MAX = 60;

/** Prometheus text exposition → [{name, labels, value}]. */
export function parsePrometheus(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function sum(samples, name, match = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** The q-quantile of a cumulative histogram, interpolated within its bucket (as PromQL does). */
export function quantile(samples, name, q) {
  const buckets = samples
    .filter((s) => s.name === `${name}_bucket`)
    .map((s) => ({ le: s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), n: s.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.length ? buckets[buckets.length - 1].n : 0;
  if (!total) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const b of buckets) {
    if (b.n >= rank) {
      if (b.le === Infinity) return prevLe;
      return prevLe + ((b.le - prevLe) * (rank - prevN)) / Math.max(1, b.n - prevN);
    }
    prevLe = b.le;
    prevN = b.n;
  }
  return prevLe;
}

export function metricsView(root) {
  const charts = el("div", { class: "charts", "aria-live": "off" });
  const status = el("p", { class: "muted", role: "status" }, "");
  const runQuery = el("button", { type: "button" }, "Per-transaction latency (metrics query)");
  const queryBox = el("div", { class: "results-area" });
  const history = { rate: [], p50: [], p95: [], p99: [], lagState: [], lagEvents: [] };
  let previous = null;
  let timer = null;

  function push(key, v) {
    history[key].push(v);
    if (history[key].length > SAMPLES_MAX) history[key].shift();
  }

  async function sample() {
    try {
      const text = await (await request("/metrics")).text();
      const samples = parsePrometheus(text);
      const now = performance.now();
      const events = sum(samples, "ledgraph_events_appended_total");
      if (previous) push("rate", Math.max(0, (events - previous.events) / ((now - previous.at) / 1000)));
      previous = { events, at: now };
      push("p50", quantile(samples, "ledgraph_commit_seconds", 0.5));
      push("p95", quantile(samples, "ledgraph_commit_seconds", 0.95));
      push("p99", quantile(samples, "ledgraph_commit_seconds", 0.99));
      push("lagState", sum(samples, "ledgraph_projection_lag_events", { projection: "state" }));
      push("lagEvents", sum(samples, "ledgraph_projection_lag_events", { projection: "events" }));
      clear(
        charts,
        lineChart("Ingest rate", [{ name: "events/s", values: history.rate }], "/s"),
        lineChart(
          "Commit latency (since start)",
          [
            { name: "p50", values: history.p50 },
            { name: "p95", values: history.p95 },
            { name: "p99", values: history.p99 },
          ],
          "s",
        ),
        lineChart(
          "Projection lag",
          [
            { name: "state", values: history.lagState },
            { name: "event graph", values: history.lagEvents },
          ],
          "events",
        ),
      );
      status.textContent = `${events} events appended since the server started; sampled every ${SAMPLE_MS / 1000} s`;
    } catch (e) {
      clear(charts, errorBox(e.status === 404 ? new Error("metrics are disabled on this server") : e));
    }
  }

  runQuery.addEventListener("click", async () => {
    clear(queryBox, el("p", { class: "muted" }, "running…"));
    try {
      const response = await request("/v1/queries/metrics/transaction-latency", {
        headers: { Accept: ACCEPT },
      });
      const json = await response.json();
      const rows = (json.results?.bindings || []).slice(-TRANSACTIONS_CHARTED_MAX);
      const series = (name, v) => ({ name, values: rows.map((r) => durationSeconds(r[v]?.value)) });
      clear(
        queryBox,
        rows.length
          ? lineChart(
              `Latency of the last ${rows.length} transactions (event graph)`,
              [series("commit", "commitLatency"), series("projection", "projectLatency")],
              "s",
              640,
            )
          : null,
        await renderAnswer(jsonResponse(json), "Commit and projection latency per transaction"),
      );
    } catch (e) {
      clear(queryBox, errorBox(e));
    }
  });

  root.append(el("h2", {}, "Metrics"), status, charts, el("h3", {}, "From the event graph"), runQuery, queryBox);
  return {
    show() {
      sample();
      if (!timer) timer = setInterval(sample, SAMPLE_MS);
    },
    hide() {
      clearInterval(timer);
      timer = null;
    },
  };
}
