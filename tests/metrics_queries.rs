//! The latency percentiles `queries/metrics/ingest-latency.rq` computes in SPARQL agree with
//! the Prometheus histograms of the same transactions, within the histogram's bucket
//! resolution: each pX lies in the bucket where the histogram's cumulative count first reaches
//! the same rank.
//!
//! The query runs with `per=range` from the test's start, so the run may span minutes.
//! One test in this file on purpose: the Prometheus recorder is process-wide, so another test
//! publishing in the same binary would add to the histograms.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::Rng;
use common::http::TestServer;

const QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)];

/// `PT0.004S` / `PT1M2.5S` / `PT0S` → seconds.
fn seconds(duration: &str) -> f64 {
    let rest = duration
        .strip_prefix("PT")
        .unwrap_or_else(|| panic!("not a short dayTimeDuration: {duration}"));
    let (minutes, rest) = match rest.split_once('M') {
        Some((m, r)) => (m.parse::<f64>().unwrap(), r),
        None => (0.0, rest),
    };
    let secs = rest
        .strip_suffix('S')
        .map_or(0.0, |s| s.parse::<f64>().unwrap());
    minutes * 60.0 + secs
}

fn row_minute_unbound(row: &serde_json::Value) -> bool {
    row.get("minute").is_none()
}

/// The cumulative bucket counts (`le` → count) of a histogram in the Prometheus text format.
fn buckets(metrics: &str, name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut out: Vec<(f64, u64)> = metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The bucket `(lower, upper]` holding the value of rank `rank` (1-based).
fn bucket_of_rank(buckets: &[(f64, u64)], rank: u64) -> (f64, f64) {
    let mut lower = f64::NEG_INFINITY;
    for &(le, count) in buckets {
        if count >= rank {
            return (lower, le);
        }
        lower = le;
    }
    panic!("rank {rank} beyond the histogram {buckets:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparql_percentiles_agree_with_the_prometheus_histograms() {
    let mut rng = Rng::from_env("sparql_percentiles_agree_with_the_prometheus_histograms");
    let server = TestServer::start();
    assert!(server.state.metrics.is_some(), "the recorder is installed");
    // The query's range starts now; per=range gives one row per stage over it, whatever
    // minutes the run spans.
    let from = ledgraph::event::hlc::rfc3339_from_ms(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            - 1_000,
    );
    let transactions = 120;
    for i in 0..transactions {
        let n = rng.range(1, 20);
        let body: String = (0..n)
            .map(|k| format!("<https://example.org/m{i}> <https://example.org/p{k}> \"{k}\" .\n"))
            .collect();
        server.publish("application/n-triples", &body).await;
    }
    server.caught_up().await;
    let size = server.log_size();
    let projections = server.state.projections.clone();
    assert!(
        tokio::task::spawn_blocking(
            move || projections.wait_events(size, common::http::PROJECTION_WAIT)
        )
        .await
        .unwrap()
    );

    let reply = server
        .get(&format!(
            "/v1/queries/metrics/ingest-latency?per=range&from={}",
            common::http::encode(&from)
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    let rows = json["results"]["bindings"].as_array().unwrap().clone();
    let metrics = server.get("/metrics").await.text();
    let mut checked = 0;
    for (stage, histogram) in [
        ("commit", "ledgraph_ingest_commit_seconds"),
        ("projection", "ledgraph_ingest_projection_seconds"),
    ] {
        let stage_rows: Vec<&serde_json::Value> = rows
            .iter()
            .filter(|r| r["stage"]["value"] == stage)
            .collect();
        assert_eq!(stage_rows.len(), 1, "one row per stage: {rows:?}");
        assert!(row_minute_unbound(stage_rows[0]), "per=range: {rows:?}");
        let row = stage_rows[0];
        let n: u64 = row["transactions"]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let hist = buckets(&metrics, histogram);
        let count = hist.last().map(|b| b.1).unwrap_or(0);
        assert_eq!(count, n, "{histogram}: the same transactions ({metrics})");
        assert!(
            n as f64 >= transactions as f64 * 0.5,
            "most transactions are timed: {n} of {transactions}"
        );
        let mut report = BTreeMap::new();
        for (name, q) in QUANTILES {
            let value = seconds(row[name]["value"].as_str().unwrap());
            let rank = (q * n as f64).ceil() as u64;
            let (lower, upper) = bucket_of_rank(&hist, rank);
            assert!(
                lower < value && value <= upper,
                "{stage} {name} = {value} s from SPARQL, the histogram puts rank {rank} of {n} in ({lower}, {upper}]"
            );
            report.insert(name, (value, lower, upper));
            checked += 1;
        }
        eprintln!("{stage}: n {n}, (SPARQL s, bucket) {report:?}");
    }
    assert_eq!(checked, 6);
    server.close().await;
}
