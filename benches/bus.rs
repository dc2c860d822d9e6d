//! The bus against `tokio::sync::broadcast`, on the same events in the same run.
//!
//! - `one_subscriber`: events/s from the feeder to one in-process subscriber taking every
//!   event (target ≥ 10,000,000/s). The events come from a [`MemorySource`], so this is the
//!   bus's own cost; `one_subscriber_from_log` repeats it with the log as the source (reading
//!   and decoding each event is then most of the cost), with no broadcast counterpart.
//! - `filtered_100`: 100 subscribers with mixed patterns (by predicate, by subject, by predicate
//!   and op), each taking about 1% of the events: events/s until every subscriber has all its
//!   events. Broadcast has no filters, so each of its 100 receivers takes every event and
//!   filters it itself (target: ledgraph ≥ 2× broadcast).
//! - `latency`: publish-to-receive latency at `LEDGRAPH_BENCH_BUS_RATE` events/s (default
//!   10,000), one event at a time, blocking receivers on both sides (target p99 ≤ 1 µs).
//! - `sse`: end-to-end latency from `POST /v1/events` to the event's arrival on a
//!   `/v1/subscribe` stream of a release `ledgraph serve`, publishing at the same rate in
//!   batches of `LEDGRAPH_BENCH_BUS_SSE_BATCH` (default 50) — it includes the commit's fsync
//!   (target p99 ≤ 5 ms).
//!
//! Broadcast gets a channel as long as the run, so it never drops an event (it would, with a
//! bounded one, where the bus switches a slow subscriber to the log instead).
//!
//! `cargo bench --bench bus` or `benches/run.sh bus`. Environment: `LEDGRAPH_BENCH_BUS_EVENTS`
//! (events per throughput run, default 2,000,000), `LEDGRAPH_BENCH_BUS_LOG_EVENTS` (200,000),
//! `LEDGRAPH_BENCH_BUS_SAMPLES` (latency samples, 20,000), `LEDGRAPH_BENCH_BUS_SSE_SECONDS` (5),
//! `LEDGRAPH_BENCH_RUNS` (3; medians are reported).

mod common;

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use common::{Client, Server, System, emit, env_or, median, percentile, round, rounded};
use ledgraph::bus::{
    Bus, BusConfig, BusItem, EventSource, MemorySource, Pattern, Start, Subscription, TriplePattern,
};
use ledgraph::event::hlc::SystemClock;
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::keys::NodeKey;
use ledgraph::log::{Log, LogConfig, LogError, LogReader};
use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad};
use serde_json::json;
use tokio::sync::broadcast;

const BENCH: &str = "bus";
const PREDICATES: u64 = 100;
const SUBJECTS: u64 = 1_000;
const FILTERED_SUBSCRIBERS: u64 = 100;
/// How many events a receiver takes per call.
const RECV_BATCH_EVENTS: usize = 4_096;
/// A receiver that sees nothing for this long has lost events: the run fails.
const STUCK_MS: u64 = 30_000;

fn iri(s: String) -> NamedNode {
    NamedNode::new_unchecked(format!("https://bench.ledgraph.dev/{s}"))
}

fn event(seq: u64) -> BusItem {
    BusItem {
        seq,
        op: if seq % 4 == 0 { Op::Remove } else { Op::Add },
        quad: Quad::new(
            iri(format!("s{}", seq % SUBJECTS)),
            iri(format!("p{}", seq % PREDICATES)),
            Literal::new_simple_literal(format!("v{seq}")),
            GraphName::DefaultGraph,
        ),
        time: seq << 16,
        ends_transaction: true,
    }
}

/// Subscriber `i` of `filtered_100`: by predicate, by subject, or by predicate and op.
fn filtered_pattern(i: u64) -> TriplePattern {
    let mut p = TriplePattern::any();
    match i % 3 {
        0 => p.predicate = Some(iri(format!("p{i}"))),
        1 => p.subject = Some(NamedOrBlankNode::NamedNode(iri(format!("s{i}")))),
        _ => {
            p.predicate = Some(iri(format!("p{i}")));
            p.op = Some(Op::Remove);
        }
    }
    p
}

fn expected_count(items: &[Arc<BusItem>], pattern: &TriplePattern) -> u64 {
    items
        .iter()
        .filter(|i| pattern.matches(i.op, &i.quad))
        .count() as u64
}

/// Receives `want` events from `sub`; returns when the last arrived.
fn drain(mut sub: Subscription, want: u64, start: &Barrier) -> Result<Instant> {
    start.wait();
    let mut got = 0;
    let mut buffer = Vec::with_capacity(RECV_BATCH_EVENTS);
    while got < want {
        buffer.clear();
        let n = sub.recv_many(
            &mut buffer,
            RECV_BATCH_EVENTS,
            Duration::from_millis(STUCK_MS),
        )?;
        if n == 0 {
            bail!("a bus subscriber stalled after {got} of {want} events");
        }
        got += n as u64;
    }
    Ok(Instant::now())
}

/// Events/s through the bus from `source` (already holding `items`) to `patterns`.
fn bus_throughput(
    source: Arc<dyn EventSource>,
    publish: impl FnOnce(),
    items: &[Arc<BusItem>],
    patterns: &[TriplePattern],
) -> Result<f64> {
    let bus = Bus::start_on(source, BusConfig::default())?;
    let start = Arc::new(Barrier::new(patterns.len() + 1));
    let mut receivers = Vec::new();
    for pattern in patterns {
        let sub = bus.subscribe(Pattern::Triple(pattern.clone()), Start::Now)?;
        let want = expected_count(items, pattern);
        let start = start.clone();
        receivers.push(thread::spawn(move || drain(sub, want, &start)));
    }
    start.wait();
    let t0 = Instant::now();
    publish();
    let mut last = t0;
    for r in receivers {
        let done = r
            .join()
            .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
        last = last.max(done);
    }
    Ok(items.len() as f64 / (last - t0).as_secs_f64())
}

/// The same with a broadcast channel: every receiver takes every event and filters it.
fn broadcast_throughput(items: &[Arc<BusItem>], patterns: &[TriplePattern]) -> Result<f64> {
    let (tx, _) = broadcast::channel::<Arc<BusItem>>(items.len().next_power_of_two());
    let start = Arc::new(Barrier::new(patterns.len() + 1));
    let mut receivers = Vec::new();
    for pattern in patterns {
        let mut rx = tx.subscribe();
        let pattern = pattern.clone();
        let (start, total) = (start.clone(), items.len());
        receivers.push(thread::spawn(move || -> Result<(Instant, u64)> {
            start.wait();
            let mut matched = 0;
            for _ in 0..total {
                let item = rx.blocking_recv().context("broadcast receiver")?;
                matched += u64::from(pattern.matches(item.op, &item.quad));
            }
            Ok((Instant::now(), matched))
        }));
    }
    start.wait();
    let t0 = Instant::now();
    for item in items {
        // No receiver can be gone: each runs until it has every event.
        let _ = tx.send(item.clone());
    }
    let mut last = t0;
    for (r, pattern) in receivers.into_iter().zip(patterns) {
        let (done, matched) = r
            .join()
            .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
        anyhow::ensure!(
            matched == expected_count(items, pattern),
            "broadcast lost events"
        );
        last = last.max(done);
    }
    Ok(items.len() as f64 / (last - t0).as_secs_f64())
}

fn throughput_case(case: &str, items: &[Arc<BusItem>], patterns: &[TriplePattern]) -> Result<()> {
    let runs = common::runs()?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let source = Arc::new(MemorySource::new(items.to_vec()));
        let n = items.len() as u64;
        let publisher = source.clone();
        ours.push(bus_throughput(
            source,
            move || publisher.publish_up_to(n),
            items,
            patterns,
        )?);
        theirs.push(broadcast_throughput(items, patterns)?);
        eprintln!(
            "{case} run {run}: ledgraph {:.0} events/s, broadcast {:.0}",
            ours[run], theirs[run]
        );
    }
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
    emit(
        BENCH,
        case,
        vec![
            ("events", json!(items.len())),
            ("subscribers", json!(patterns.len())),
            ("ledgraph_events_per_s", json!(round(median(&ours)))),
            ("broadcast_events_per_s", json!(round(median(&theirs)))),
            ("ratio", json!(round(median(&ratios)))),
            ("ratio_per_run", rounded(&ratios)),
        ],
    );
    Ok(())
}

/// A log that shows the bus only the events published so far, so the feeder (not a
/// catching-up subscriber) reads them.
#[derive(Debug)]
struct GatedLog {
    reader: Arc<LogReader>,
    visible: MemorySource,
}

impl EventSource for GatedLog {
    fn size(&self) -> u64 {
        self.visible.size()
    }
    fn wait_for_size(&self, min_size: u64, timeout: Duration) -> u64 {
        self.visible.wait_for_size(min_size, timeout)
    }
    fn notify_waiters(&self) {
        self.visible.notify_waiters();
    }
    fn item(&self, seq: u64) -> Result<Arc<BusItem>, LogError> {
        EventSource::item(&*self.reader, seq)
    }
}

fn from_log_case() -> Result<()> {
    let n: u64 = env_or("LEDGRAPH_BENCH_BUS_LOG_EVENTS", 200_000)?;
    let dir = common::temp_dir("bus-log")?;
    let key = NodeKey::from_seed("bench.local/bus", [9u8; 32])?;
    let actor = ActorKey(key.public_key());
    let (log, _) = Log::open(dir.path(), key, LogConfig::default(), Arc::new(SystemClock))?;
    let items: Vec<Arc<BusItem>> = (0..n).map(|s| Arc::new(event(s))).collect();
    for chunk in items.chunks(10_000) {
        let changes = chunk.iter().map(|i| (i.op, i.quad.clone())).collect();
        log.append(Batch::unsigned(actor, changes))?;
    }
    let mut rates = Vec::new();
    for _ in 0..common::runs()? {
        // A gate of placeholder items: only its size and wake-ups are used.
        let gate = MemorySource::new(items.clone());
        let source = Arc::new(GatedLog {
            reader: log.reader().clone(),
            visible: gate,
        });
        let publisher = source.clone();
        rates.push(bus_throughput(
            source,
            move || publisher.visible.publish_up_to(n),
            &items,
            &[TriplePattern::any()],
        )?);
    }
    emit(
        BENCH,
        "one_subscriber_from_log",
        vec![
            ("events", json!(n)),
            ("ledgraph_events_per_s", json!(round(median(&rates)))),
            ("per_run", rounded(&rates)),
        ],
    );
    log.close()?;
    Ok(())
}

/// Publishes `samples` events one by one at `rate`; `stamp(i)` records when event i went out.
fn paced(samples: u64, rate: f64, mut publish: impl FnMut(u64)) {
    let t0 = Instant::now();
    for i in 0..samples {
        let due = t0 + Duration::from_secs_f64(i as f64 / rate);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        publish(i);
    }
}

fn latency_case() -> Result<()> {
    let samples: u64 = env_or("LEDGRAPH_BENCH_BUS_SAMPLES", 20_000)?;
    let rate: f64 = env_or("LEDGRAPH_BENCH_BUS_RATE", 10_000.0)?;
    let items: Vec<Arc<BusItem>> = (0..samples).map(|s| Arc::new(event(s))).collect();
    let base = Instant::now();
    let nanos = move || base.elapsed().as_nanos() as u64;

    // ledgraph: publish = the source grows by one event.
    let source = Arc::new(MemorySource::new(items.clone()));
    let bus = Bus::start_on(source.clone(), BusConfig::default())?;
    let mut sub = bus.subscribe(Pattern::Triple(TriplePattern::any()), Start::Now)?;
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..samples).map(|_| AtomicU64::new(0)).collect());
    let stamps = sent.clone();
    let receiver = thread::spawn(move || -> Result<Vec<f64>> {
        let mut latencies = Vec::with_capacity(samples as usize);
        let mut buffer = Vec::new();
        while (latencies.len() as u64) < samples {
            buffer.clear();
            if sub.recv_many(&mut buffer, 64, Duration::from_millis(STUCK_MS))? == 0 {
                bail!("the latency subscriber stalled");
            }
            let now = nanos();
            for item in &buffer {
                let at = stamps[item.seq as usize].load(Ordering::Acquire);
                latencies.push(now.saturating_sub(at) as f64 / 1_000.0);
            }
        }
        Ok(latencies)
    });
    paced(samples, rate, |i| {
        sent[i as usize].store(nanos(), Ordering::Release);
        source.publish_up_to(i + 1);
    });
    let ours = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
    drop(bus);

    let (tx, mut rx) =
        broadcast::channel::<(u64, Arc<BusItem>)>(samples.next_power_of_two() as usize);
    let receiver = thread::spawn(move || -> Result<Vec<f64>> {
        let mut latencies = Vec::with_capacity(samples as usize);
        while (latencies.len() as u64) < samples {
            let (at, _item) = rx.blocking_recv().context("broadcast receiver")?;
            latencies.push(nanos().saturating_sub(at) as f64 / 1_000.0);
        }
        Ok(latencies)
    });
    paced(samples, rate, |i| {
        let _ = tx.send((nanos(), items[i as usize].clone()));
    });
    let theirs = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
    emit(
        BENCH,
        "latency",
        vec![
            ("samples", json!(samples)),
            ("events_per_s", json!(rate)),
            ("ledgraph_p50_us", json!(round(percentile(&ours, 0.5)))),
            ("ledgraph_p99_us", json!(round(percentile(&ours, 0.99)))),
            ("broadcast_p50_us", json!(round(percentile(&theirs, 0.5)))),
            ("broadcast_p99_us", json!(round(percentile(&theirs, 0.99)))),
        ],
    );
    Ok(())
}

fn sse_case() -> Result<()> {
    let seconds: f64 = env_or("LEDGRAPH_BENCH_BUS_SSE_SECONDS", 5.0)?;
    let rate: f64 = env_or("LEDGRAPH_BENCH_BUS_RATE", 10_000.0)?;
    let batch: u64 = env_or("LEDGRAPH_BENCH_BUS_SSE_BATCH", 50)?;
    let dir = common::temp_dir("bus-sse")?;
    let server = Server::start(System::Ledgraph, &dir.path().join("data"))?;
    let base = server.base.clone();
    let predicate = "https://bench.ledgraph.dev/sse";
    let batches = (seconds * rate / batch as f64).ceil() as u64;
    let total = batches * batch;
    let t0 = Instant::now();
    let nanos = move || t0.elapsed().as_nanos() as u64;

    let url = format!(
        "{base}/v1/subscribe?p={}&format=json",
        form_urlencoded::byte_serialize(predicate.as_bytes()).collect::<String>()
    );
    let reader = thread::spawn(move || -> Result<Vec<f64>> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(STUCK_MS)))
            .build()
            .into();
        let response = agent.get(&url).call().context("GET /v1/subscribe")?;
        let mut lines = BufReader::new(response.into_body().into_reader()).lines();
        let mut latencies = Vec::with_capacity(total as usize);
        while (latencies.len() as u64) < total {
            let line = lines.next().context("the stream ended early")??;
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let json: serde_json::Value = serde_json::from_str(data.trim())?;
            let o = json["o"].as_str().unwrap_or_default();
            let at: u64 = o.trim_matches('"').parse().context("a timestamp object")?;
            latencies.push(nanos().saturating_sub(at) as f64 / 1_000_000.0);
        }
        Ok(latencies)
    });
    // Give the stream time to open: events before it would be missed (it starts at "now").
    thread::sleep(Duration::from_millis(500));
    let client = Client::new();
    let started = Instant::now();
    for b in 0..batches {
        let due = started + Duration::from_secs_f64((b * batch) as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let at = nanos();
        let events: Vec<serde_json::Value> = (0..batch)
            .map(|i| {
                json!({"op": "add", "s": format!("<https://bench.ledgraph.dev/e{}>", b * batch + i),
                       "p": format!("<{predicate}>"), "o": format!("\"{at}\"")})
            })
            .collect();
        let body = serde_json::to_vec(&events)?;
        client.post_ok(
            &format!("{base}/v1/events"),
            "application/json",
            "application/json",
            &body,
        )?;
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    let latencies = reader
        .join()
        .map_err(|_| anyhow::anyhow!("SSE reader panicked"))??;
    server.stop()?;
    emit(
        BENCH,
        "sse",
        vec![
            ("events", json!(total)),
            ("batch_events", json!(batch)),
            ("events_per_s", json!(round(achieved))),
            ("p50_ms", json!(round(percentile(&latencies, 0.5)))),
            ("p99_ms", json!(round(percentile(&latencies, 0.99)))),
            ("max_ms", json!(round(percentile(&latencies, 1.0)))),
        ],
    );
    Ok(())
}

fn main() -> Result<()> {
    let n: u64 = env_or("LEDGRAPH_BENCH_BUS_EVENTS", 2_000_000)?;
    let items: Vec<Arc<BusItem>> = (0..n).map(|s| Arc::new(event(s))).collect();
    throughput_case("one_subscriber", &items, &[TriplePattern::any()])?;
    let patterns: Vec<TriplePattern> = (0..FILTERED_SUBSCRIBERS).map(filtered_pattern).collect();
    throughput_case("filtered_100", &items, &patterns)?;
    drop(items);
    from_log_case()?;
    latency_case()?;
    sse_case()?;
    Ok(())
}
