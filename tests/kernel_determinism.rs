//! Determinism of the kernel projection: a seeded workload is published into data directory A
//! with the demo descriptor activated at a seeded position; data directory B (same node key,
//! a wall clock a day ahead) gets only A's input transactions, in the same order, with their
//! recorded times, and its own kernel follower derives the rest. Every event of B — derived
//! events and receipts included — is byte-identical to A's, so the Merkle roots are equal.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ledgraph::event::hlc::{Clock, ManualClock, SystemClock};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::kernel::follow::{self, Follower, transaction};
use ledgraph::kernel::registry;
use ledgraph::kernel::runner::is_derived;
use ledgraph::log::{Log, LogConfig, Stamp};
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{GraphName, Literal, NamedNode, Quad};

const EX: &str = "https://example.org/plant#";
const INPUTS: u64 = 24;
const CATCH_UP: Duration = Duration::from_secs(60);

fn demo_descriptor() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (ontology, shapes) = (root.join("ontology"), root.join("shapes"));
    ledgraph::descriptor::compile_paths(&[&ontology, &shapes], &common::node_key())
        .expect("the demo compiles")
        .bytes
}

fn open(dir: &Path, clock: Arc<dyn Clock>) -> (Arc<Log>, Follower) {
    let (log, _) = common::open_with_clock(dir, LogConfig::default(), clock);
    let log = Arc::new(log);
    let follower = Follower::start(log.clone(), common::node_key());
    (log, follower)
}

fn node_actor() -> ActorKey {
    ActorKey(common::node_key().public_key())
}

/// Waits until the follower has read the whole log (so any derived transaction is appended
/// right after its input, in both logs).
fn settle(log: &Log, follower: &Follower) {
    let started = Instant::now();
    while follower.applied.load(Ordering::Acquire) < log.size() {
        assert!(started.elapsed() < CATCH_UP, "the kernel did not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One seeded input transaction: sensors typed and read, some hot enough for the demo rules,
/// and now and then a reading retracted.
fn input(rng: &mut common::Rng, k: u64) -> Vec<(Op, Quad)> {
    let node = |s: String| NamedNode::new_unchecked(s);
    let mut changes = Vec::new();
    for _ in 0..rng.range(1, 4) {
        let s = node(format!("urn:test:sensor{}", rng.range(0, 8)));
        let class = ["TemperatureSensor", "PressureSensor", "Pump"][rng.range(0, 3) as usize];
        changes.push((
            Op::Add,
            Quad::new(
                s.clone(),
                rdf::TYPE,
                node(format!("{EX}{class}")),
                GraphName::DefaultGraph,
            ),
        ));
        let celsius = format!("{}.{}", rng.range(20, 120), rng.range(0, 10));
        let op = if rng.range(0, 5) == 0 {
            Op::Remove
        } else {
            Op::Add
        };
        changes.push((
            op,
            Quad::new(
                s,
                node(format!("{EX}temperatureC")),
                Literal::new_typed_literal(celsius, xsd::DECIMAL),
                GraphName::DefaultGraph,
            ),
        ));
    }
    changes.push((
        Op::Add,
        Quad::new(
            node(format!("urn:test:batch{k}")),
            rdf::TYPE,
            node(format!("{EX}Observation")),
            GraphName::DefaultGraph,
        ),
    ));
    changes
}

#[test]
fn replaying_the_inputs_into_a_fresh_data_dir_gives_the_same_merkle_root() {
    let mut rng = common::Rng::from_env("kernel_determinism");
    let activate_at = rng.range(0, INPUTS / 2);
    let descriptor = demo_descriptor();
    let publisher = ActorKey(common::publisher_key().public_key());

    // A: the seeded workload, the demo descriptor activated at a seeded position.
    let dir_a = tempfile::tempdir().expect("tempdir");
    let (log_a, mut follower_a) = open(dir_a.path(), Arc::new(SystemClock));
    for k in 0..INPUTS {
        if k == activate_at {
            let active = registry::load(descriptor.clone(), Some("demo")).expect("loads");
            let store = oxigraph::store::Store::new().expect("store");
            let changes = registry::activation_changes(&store, &active, log_a.size(), 1_000)
                .expect("activation");
            log_a
                .append(Batch::unsigned(node_actor(), changes))
                .expect("activate");
            settle(&log_a, &follower_a);
        }
        log_a
            .append(Batch::unsigned(publisher, input(&mut rng, k)))
            .expect("append");
        settle(&log_a, &follower_a);
    }
    follower_a.stop();

    // B: only A's input transactions, with their recorded times, under another wall clock.
    let ahead_ms = SystemClock.now_ms() + 86_400_000;
    let dir_b = tempfile::tempdir().expect("tempdir");
    let (log_b, mut follower_b) = open(dir_b.path(), Arc::new(ManualClock::new(ahead_ms)));
    let reader_a = log_a.reader();
    let (mut seq, mut inputs, mut derived, mut triples) = (0, 0, 0, 0);
    while seq < reader_a.size() {
        let tx = transaction(reader_a, seq).expect("read A");
        seq += tx.len() as u64;
        if is_derived(&tx) {
            derived += 1;
            triples += tx
                .iter()
                .filter(|c| c.event.quad.graph_name.is_default_graph())
                .count();
            continue;
        }
        inputs += 1;
        let actor = tx[0].event.actor;
        let times = tx.iter().map(|c| c.event.time).collect();
        let changes = tx.into_iter().map(|c| (c.event.op, c.event.quad)).collect();
        log_b
            .append_stamped(Batch::unsigned(actor, changes), Stamp::Recorded(times))
            .expect("append to B");
        settle(&log_b, &follower_b);
    }
    follower_b.stop();
    assert_eq!(inputs, INPUTS + 1, "the inputs and the activation");
    assert_eq!(
        derived,
        INPUTS - activate_at,
        "one derived transaction per input after activation"
    );
    assert!(
        triples > 0,
        "the workload makes the demo rules derive triples"
    );

    let reader_b = log_b.reader();
    assert_eq!(reader_b.size(), reader_a.size(), "same number of events");
    for seq in 0..reader_a.size() {
        assert_eq!(
            reader_b.entry(seq).expect("B"),
            reader_a.entry(seq).expect("A"),
            "event {seq} differs"
        );
    }
    let size = reader_a.size();
    let (root_a, root_b) = (
        reader_a.root_at(size).expect("root A"),
        reader_b.root_at(size).expect("root B"),
    );
    eprintln!(
        "{size} events, {derived} derived transactions ({triples} derived triples); root {}",
        hex::encode(root_a)
    );
    assert_eq!(root_a, root_b, "Merkle roots at size {size}");
    for reader in [reader_a, reader_b] {
        let v = follow::verify(reader).expect("verify");
        assert!(v.mismatches.is_empty(), "{:?}", v.mismatches);
        assert_eq!(v.receipts_checked, derived);
    }
}

#[test]
fn a_tampered_derived_event_fails_log_verify_and_receipts_verify() {
    let mut rng = common::Rng::from_env("kernel_determinism_tamper");
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, mut follower) = open(dir.path(), Arc::new(SystemClock));
    let active = registry::load(demo_descriptor(), Some("demo")).expect("loads");
    let store = oxigraph::store::Store::new().expect("store");
    let changes =
        registry::activation_changes(&store, &active, 0, 1_000).expect("activation changes");
    log.append(Batch::unsigned(node_actor(), changes))
        .expect("activate");
    let publisher = ActorKey(common::publisher_key().public_key());
    for k in 0..3 {
        log.append(Batch::unsigned(publisher, input(&mut rng, k)))
            .expect("append");
        settle(&log, &follower);
    }
    follower.stop();
    // The receipt's output digest of the last derived transaction: its payload and hex value.
    let reader = log.reader().clone();
    let (target, digest) = (0..reader.size())
        .rev()
        .find_map(|seq| {
            let e = reader.event(seq).ok()?;
            (e.quad.predicate.as_str() == "https://ledgraph.dev/ns#outputDigest").then(|| {
                let oxrdf::Term::Literal(l) = &e.quad.object else {
                    panic!("a literal digest")
                };
                (seq, l.value().to_owned())
            })
        })
        .expect("a receipt");
    let payload = reader.entry(target).expect("payload");
    drop(reader);
    assert!(
        follow::verify(log.reader())
            .expect("verify")
            .mismatches
            .is_empty()
    );
    Arc::into_inner(log)
        .expect("the only handle")
        .close()
        .expect("close");

    let verifier = ledgraph::keys::load_verifier(dir.path()).expect("verifier");
    let options = ledgraph::log::verify::VerifyOptions::default();
    let report =
        ledgraph::log::verify::verify_log(dir.path(), &verifier, &options).expect("intact log");
    assert_eq!(
        report.signed_batches, 3,
        "the 3 derived transactions are signed by the node (the inputs are not)"
    );
    // Change one hex digit of the digest where the event is stored.
    let at_in_payload = payload
        .windows(digest.len())
        .position(|w| w == digest.as_bytes())
        .expect("digest in payload");
    let mut tampered = 0;
    for file in common::files_under(dir.path()) {
        let mut bytes = std::fs::read(&file).expect("read");
        if let Some(at) = bytes.windows(payload.len()).position(|w| w == payload) {
            let i = at + at_in_payload;
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            std::fs::write(&file, &bytes).expect("write");
            tampered += 1;
        }
    }
    assert_eq!(tampered, 1, "the event is stored once");
    assert!(
        ledgraph::log::verify::verify_log(dir.path(), &verifier, &options).is_err(),
        "log verify detects the tampered derived event"
    );
    let reader = ledgraph::log::LogReader::open_read_only(dir.path(), verifier).expect("open");
    match follow::verify(&reader) {
        Err(e) => eprintln!("receipts verify refuses: {e}"),
        Ok(v) => assert!(!v.mismatches.is_empty(), "receipts verify passed: {v:?}"),
    }
}
