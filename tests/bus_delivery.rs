//! The in-process bus: every subscriber receives exactly the log's events matching its pattern,
//! in log order, with no gap and no duplicate — also when its buffer overflows, when it stalls,
//! and when it starts from a past position. The 100-subscriber test takes its expectation from
//! a SPARQL query over the event graph, the log's independent projection.
//!
//! The stalled subscriber stalls for `LEDGRAPH_BUS_STALL_MS` (default 10000, the issue's
//! figure; set it lower for quick local runs).

mod common;

use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::{Rng, node_key, open};
use ledgraph::bus::{
    Bus, BusConfig, BusError, BusItem, EventSource, MemorySource, Pattern, Start, TriplePattern,
};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::log::{Log, LogConfig, LogReader};
use ledgraph::store::projection::catch_up;
use ledgraph::store::{GraphStore, ProjectionConfig};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};

const WAIT: Duration = Duration::from_secs(60);

fn iri(s: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("https://example.org/{s}"))
}

fn subject(i: u64) -> NamedOrBlankNode {
    iri(&format!("s{i}")).into()
}

fn object(i: u64) -> Term {
    Literal::new_simple_literal(format!("o{i}")).into()
}

/// A random event over 8 subjects, 5 predicates and 4 objects, so patterns overlap.
fn random_change(rng: &mut Rng) -> (Op, Quad) {
    let op = if rng.range(0, 4) == 0 {
        Op::Remove
    } else {
        Op::Add
    };
    let quad = Quad::new(
        subject(rng.range(0, 8)),
        iri(&format!("p{}", rng.range(0, 5))),
        object(rng.range(0, 4)),
        GraphName::DefaultGraph,
    );
    (op, quad)
}

fn random_pattern(rng: &mut Rng) -> TriplePattern {
    let mut p = TriplePattern::any();
    match rng.range(0, 6) {
        0 => {}
        1 => p.predicate = Some(iri(&format!("p{}", rng.range(0, 5)))),
        2 => p.subject = Some(subject(rng.range(0, 8))),
        3 => {
            p.predicate = Some(iri(&format!("p{}", rng.range(0, 5))));
            p.subject = Some(subject(rng.range(0, 8)));
        }
        4 => p.object = Some(object(rng.range(0, 4))),
        _ => {
            p.predicate = Some(iri(&format!("p{}", rng.range(0, 5))));
            p.op = Some(Op::Remove);
        }
    }
    p
}

fn publish(log: &Log, rng: &mut Rng, events: u64) {
    let actor = ActorKey(node_key().public_key());
    let mut sent = 0;
    while sent < events {
        let n = rng.range(1, 20).min(events - sent);
        let changes = (0..n).map(|_| random_change(rng)).collect();
        log.append(Batch::unsigned(actor, changes)).unwrap();
        sent += n;
    }
}

/// The log's positions in `[from, size)` whose event matches `pattern`.
fn expected(reader: &LogReader, pattern: &TriplePattern, from: u64) -> Vec<u64> {
    (from..reader.size())
        .filter(|&seq| {
            let e = reader.event(seq).unwrap();
            pattern.matches(e.op, &e.quad)
        })
        .collect()
}

/// The positions from `from` on whose event matches `pattern`, by SPARQL over the event graph.
fn expected_by_sparql(store: &GraphStore, pattern: &TriplePattern, from: u64) -> Vec<u64> {
    let mut filters = String::new();
    if let Some(s) = &pattern.subject {
        filters.push_str(&format!("?e lg:subject {s} . "));
    }
    if let Some(p) = &pattern.predicate {
        filters.push_str(&format!("?e lg:predicate {p} . "));
    }
    if let Some(o) = &pattern.object {
        filters.push_str(&format!("?e lg:object {o} . "));
    }
    if let Some(op) = pattern.op {
        filters.push_str(&format!("?e lg:op lg:{} . ", op.as_str()));
    }
    let query = format!(
        "PREFIX lg: <https://ledgraph.dev/ns#>
         SELECT ?seq WHERE {{ GRAPH <urn:ledgraph:log> {{ ?e lg:seq ?seq . {filters} }}
           FILTER(?seq >= {from}) }} ORDER BY ?seq"
    );
    let results = SparqlEvaluator::new()
        .parse_query(&query)
        .unwrap()
        .on_store(store.oxigraph())
        .execute()
        .unwrap();
    let QueryResults::Solutions(solutions) = results else {
        panic!("not a SELECT");
    };
    solutions
        .map(|s| match s.unwrap().get("seq") {
            Some(Term::Literal(l)) => l.value().parse().unwrap(),
            other => panic!("seq: {other:?}"),
        })
        .collect()
}

/// Receives until `count` is known and reached, then checks that nothing more arrives.
fn collect(sub: &mut ledgraph::bus::Subscription, count: &OnceLock<usize>) -> Vec<(u64, Op, Quad)> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    loop {
        if count.get().is_some_and(|&n| got.len() >= n) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stuck after {} events",
            got.len()
        );
        if let Some(item) = sub.recv_timeout(Duration::from_millis(50)).unwrap() {
            got.push((item.seq, item.op, item.quad.clone()));
        }
    }
    if let Some(extra) = sub.recv_timeout(Duration::from_millis(200)).unwrap() {
        panic!("an event beyond the expected ones: {}", extra.seq);
    }
    got
}

#[test]
fn every_subscriber_gets_exactly_its_matching_events_in_order_despite_a_stalled_one() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let mut rng = Rng::from_env("bus_delivery");
    let stall_ms: u64 = std::env::var("LEDGRAPH_BUS_STALL_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    // Some history before the bus starts, read by subscribers starting in the past.
    publish(&log, &mut rng, 300);
    let config = BusConfig {
        subscriber_buffer_events_max: 32,
        catchup_read_events_max: 50,
        ..BusConfig::default()
    };
    let bus = Arc::new(Bus::start(log.reader().clone(), config).unwrap());

    let subscribers = 100;
    let mut setups = Vec::new();
    for i in 0..subscribers {
        let pattern = random_pattern(&mut rng);
        let start = match i % 3 {
            0 => Start::Seq(rng.range(0, 300)),
            1 => Start::Seq(0),
            _ => Start::Now,
        };
        let from = match start {
            Start::Seq(n) => n,
            Start::Now => log.size(),
        };
        let sub = bus
            .subscribe(Pattern::Triple(pattern.clone()), start)
            .unwrap();
        setups.push((pattern, from, sub));
    }
    // The stalled one matches everything, so its buffer certainly overflows.
    let stalled = bus
        .subscribe(Pattern::Triple(TriplePattern::any()), Start::Seq(0))
        .unwrap();
    setups.push((TriplePattern::any(), 0, stalled));

    let counts: Arc<Vec<OnceLock<usize>>> =
        Arc::new((0..setups.len()).map(|_| OnceLock::new()).collect());
    let mut handles = Vec::new();
    let mut patterns = Vec::new();
    for (i, (pattern, from, mut sub)) in setups.into_iter().enumerate() {
        patterns.push((pattern, from));
        let counts = counts.clone();
        let stall = (i == subscribers).then(|| Duration::from_millis(stall_ms));
        handles.push(thread::spawn(move || {
            if let Some(stall) = stall {
                thread::sleep(stall);
            }
            collect(&mut sub, &counts[i])
        }));
    }

    publish(&log, &mut rng, 3_000);
    let reader = log.reader().clone();
    let store = GraphStore::in_memory().unwrap();
    catch_up(&reader, &store, &ProjectionConfig::default(), &|_, _| {}).unwrap();
    let wants: Vec<Vec<u64>> = patterns
        .iter()
        .map(|(pattern, from)| {
            let want = expected_by_sparql(&store, pattern, *from);
            assert_eq!(want, expected(&reader, pattern, *from), "{pattern:?}");
            want
        })
        .collect();
    for (i, want) in wants.iter().enumerate() {
        let _ = counts[i].set(want.len());
    }
    for (i, handle) in handles.into_iter().enumerate() {
        let got = handle.join().unwrap();
        let (pattern, from) = &patterns[i];
        let want = &wants[i];
        let seqs: Vec<u64> = got.iter().map(|(s, _, _)| *s).collect();
        assert_eq!(&seqs, want, "subscriber {i} ({pattern:?} from {from})");
        for (seq, op, quad) in got {
            let e = reader.event(seq).unwrap();
            assert_eq!((e.op, &e.quad), (op, &quad), "subscriber {i} at {seq}");
        }
    }
    assert!(
        bus.catchups() > 0,
        "no subscriber ever overflowed its buffer"
    );
}

#[test]
fn a_subscriber_from_a_past_position_reads_the_log_then_follows_live() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let mut rng = Rng::from_env("bus_past_position");
    publish(&log, &mut rng, 500);
    let config = BusConfig {
        subscriber_buffer_events_max: 4,
        ..BusConfig::default()
    };
    let bus = Bus::start(log.reader().clone(), config).unwrap();
    let mut sub = bus
        .subscribe(Pattern::Triple(TriplePattern::any()), Start::Seq(100))
        .unwrap();
    publish(&log, &mut rng, 500);
    let count = OnceLock::new();
    let _ = count.set(900);
    let got = collect(&mut sub, &count);
    let seqs: Vec<u64> = got.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(seqs, (100..1000).collect::<Vec<_>>());
}

#[test]
fn from_now_skips_the_events_committed_before_subscribing() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let mut rng = Rng::from_env("bus_from_now");
    publish(&log, &mut rng, 50);
    let bus = Bus::start(log.reader().clone(), BusConfig::default()).unwrap();
    publish(&log, &mut rng, 50);
    let mut sub = bus
        .subscribe(Pattern::Triple(TriplePattern::any()), Start::Now)
        .unwrap();
    publish(&log, &mut rng, 30);
    let count = OnceLock::new();
    let _ = count.set(30);
    let got = collect(&mut sub, &count);
    assert_eq!(
        got.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(),
        (100..130).collect::<Vec<_>>()
    );
}

#[test]
fn the_last_event_of_each_transaction_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let bus = Bus::start(log.reader().clone(), BusConfig::default()).unwrap();
    let mut sub = bus
        .subscribe(Pattern::Triple(TriplePattern::any()), Start::Seq(0))
        .unwrap();
    let actor = ActorKey(node_key().public_key());
    for n in [3u64, 1, 2] {
        let changes = (0..n)
            .map(|i| {
                (
                    Op::Add,
                    Quad::new(subject(i), iri("p"), object(n), GraphName::DefaultGraph),
                )
            })
            .collect();
        log.append(Batch::unsigned(actor, changes)).unwrap();
    }
    let mut ends = Vec::new();
    for _ in 0..6 {
        let item = sub.recv_timeout(WAIT).unwrap().expect("an event");
        ends.push(item.ends_transaction);
    }
    assert_eq!(ends, [false, false, true, true, false, true]);
}

#[test]
fn a_topic_subscription_gets_the_alert_records_of_its_topic_only_live_and_from_the_log() {
    use ledgraph::kernel::alerts;
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let actor = ActorKey(node_key().public_key());
    let bus = Bus::start(log.reader().clone(), BusConfig::default()).unwrap();
    let mut live = bus
        .subscribe(Pattern::Topic("plant/alarms".into()), Start::Now)
        .unwrap();
    assert_eq!(live.topic(), Some("plant/alarms"));
    let s: Term = iri("pump").into();
    let o: Term = Literal::new_simple_literal("hot").into();
    let record = |seq, topic| alerts::quads(seq, 0, topic, Some("m"), &s, &o, None);
    // A look-alike topic triple in the default graph is not an alert.
    let spoof = Quad::new(
        iri("x"),
        NamedNode::new_unchecked(alerts::TOPIC),
        Literal::new_simple_literal("plant/alarms"),
        GraphName::DefaultGraph,
    );
    let mut changes = vec![(Op::Add, spoof)];
    changes.extend(record(0, "plant/alarms").into_iter().map(|q| (Op::Add, q)));
    changes.extend(record(0, "plant/other").into_iter().map(|q| (Op::Add, q)));
    changes.extend(record(1, "plant/alarms").into_iter().map(|q| (Op::Add, q)));
    let per = record(0, "t").len() as u64;
    log.append(Batch::unsigned(actor, changes)).unwrap();
    let expected = [per, 3 * per];
    let mut past = bus
        .subscribe(Pattern::Topic("plant/alarms".into()), Start::Seq(0))
        .unwrap();
    for sub in [&mut live, &mut past] {
        for &seq in &expected {
            let item = sub.recv_timeout(WAIT).unwrap().expect("an alert");
            assert_eq!(item.seq, seq);
            let alert = sub.alert(&item).unwrap();
            assert_eq!(alert.topic, "plant/alarms");
            assert_eq!(alert.message.as_deref(), Some("m"));
            assert_eq!(alert.subject.as_ref(), Some(&s));
        }
        assert!(
            sub.recv_timeout(Duration::from_millis(300))
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn stopping_the_bus_closes_subscriptions_after_what_they_were_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let bus = Bus::start(log.reader().clone(), BusConfig::default()).unwrap();
    let mut sub = bus
        .subscribe(Pattern::Triple(TriplePattern::any()), Start::Seq(0))
        .unwrap();
    let mut rng = Rng::new(3);
    publish(&log, &mut rng, 10);
    let deadline = Instant::now() + WAIT;
    while bus.position() < 10 {
        assert!(Instant::now() < deadline, "feeder stuck");
        thread::sleep(Duration::from_millis(5));
    }
    bus.stop();
    for seq in 0..10 {
        let item = sub.recv_timeout(WAIT).unwrap().expect("a sent event");
        assert_eq!(item.seq, seq);
    }
    let err = sub.recv_timeout(WAIT).unwrap_err();
    assert!(matches!(err, BusError::Closed(_)), "{err}");
    assert!(
        bus.subscribe(Pattern::Triple(TriplePattern::any()), Start::Now)
            .is_err()
    );
    drop(sub);
    assert_eq!(bus.subscribers(), 0);
}

#[test]
fn recv_many_hands_over_runs_in_log_order_with_overflows_from_a_memory_source() {
    let mut rng = Rng::from_env("bus_recv_many");
    let items: Vec<Arc<BusItem>> = (0..20_000)
        .map(|seq| {
            let (op, quad) = random_change(&mut rng);
            Arc::new(BusItem {
                seq,
                op,
                quad,
                time: seq << 16,
                ends_transaction: seq % 3 == 2,
            })
        })
        .collect();
    let source = Arc::new(MemorySource::new(items.clone()));
    let config = BusConfig {
        subscriber_buffer_events_max: 64,
        ..BusConfig::default()
    };
    let bus = Bus::start_on(source.clone(), config).unwrap();
    let patterns: Vec<TriplePattern> = (0..20).map(|_| random_pattern(&mut rng)).collect();
    let mut subs: Vec<_> = patterns
        .iter()
        .map(|p| {
            bus.subscribe(Pattern::Triple(p.clone()), Start::Now)
                .unwrap()
        })
        .collect();
    // Published in steps while nobody reads, so small buffers overflow into catch-up.
    for size in (1_000..=20_000).step_by(1_000) {
        source.publish_up_to(size);
    }
    assert_eq!(source.size(), 20_000);
    for (pattern, sub) in patterns.iter().zip(&mut subs) {
        let want: Vec<u64> = items
            .iter()
            .filter(|i| pattern.matches(i.op, &i.quad))
            .map(|i| i.seq)
            .collect();
        let mut got = Vec::new();
        let deadline = Instant::now() + WAIT;
        while got.len() < want.len() {
            assert!(Instant::now() < deadline, "stuck after {}", got.len());
            sub.recv_many(&mut got, 100, Duration::from_millis(50))
                .unwrap();
        }
        let seqs: Vec<u64> = got.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, want, "{pattern:?}");
        let mut extra = Vec::new();
        assert_eq!(
            sub.recv_many(&mut extra, 10, Duration::from_millis(100))
                .unwrap(),
            0
        );
    }
    assert!(bus.catchups() > 0, "no buffer overflowed");
}
