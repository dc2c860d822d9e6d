//! Appending, reading back, proofs against signed checkpoints, limits and concurrency.

mod common;

use std::sync::Arc;

use common::{batch, node_key, open, open_with_clock, publisher_key, quad, small_segments};
use ledgraph::event::hlc::ManualClock;
use ledgraph::event::{ActorKey, Batch, BatchSignature, Op};
use ledgraph::log::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use ledgraph::log::verify::{VerifyOptions, verify_log};
use ledgraph::log::{LogConfig, LogError, SignedCheckpoint};

#[test]
fn appended_events_read_back_and_prove_inclusion_in_the_signed_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (log, report) = open(dir.path(), LogConfig::default());
    assert!(report.created);
    let a = log.append(batch(0, 3)).unwrap();
    let b = log.append(batch(3, 2)).unwrap();
    assert_eq!((a.first_seq, a.count, b.first_seq, b.count), (0, 3, 3, 2));
    assert_eq!(b.checkpoint.checkpoint.size, 5);
    let verified = SignedCheckpoint::verify(&b.checkpoint.note, &node_key().verifier()).unwrap();
    for seq in 0..5 {
        let event = log.event(seq).unwrap();
        assert_eq!(event.quad, quad(seq));
        assert_eq!(event.op, Op::Add);
        let proof = log.inclusion_proof(seq, Some(5)).unwrap();
        assert_eq!(proof.leaf_hash, leaf_hash(&log.entry(seq).unwrap()));
        verify_inclusion(
            &proof.leaf_hash,
            seq,
            5,
            &proof.hashes,
            &verified.checkpoint.root,
        )
        .unwrap();
    }
    let c = log.consistency_proof(3, 5).unwrap();
    verify_consistency(
        3,
        5,
        &c.hashes,
        &a.checkpoint.checkpoint.root,
        &verified.checkpoint.root,
    )
    .unwrap();
    assert!(matches!(log.event(5), Err(LogError::Range(_))));
}

#[test]
fn reopened_log_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), small_segments());
    for i in 0..40 {
        log.append(batch(i * 3, 3)).unwrap();
    }
    let root = log.checkpoint().checkpoint.root;
    log.close().unwrap();
    let (log, report) = open(dir.path(), small_segments());
    assert_eq!(report.events, 120);
    assert_eq!((report.truncated_bytes, report.rebuilt_events), (0, 0));
    assert_eq!(log.checkpoint().checkpoint.root, root);
    assert_eq!(log.append(batch(120, 1)).unwrap().first_seq, 120);
    for seq in [0, 59, 120] {
        assert_eq!(log.event(seq).unwrap().quad, quad(seq));
    }
    log.close().unwrap();
    let segments = std::fs::read_dir(dir.path().join("log/segments"))
        .unwrap()
        .count();
    assert!(segments > 3, "4 KiB segments must rotate, found {segments}");
    let report = verify_log(
        dir.path(),
        &node_key().verifier(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(report.events, 121);
}

#[test]
fn event_times_increase_even_when_the_wall_clock_goes_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (log, _) = open_with_clock(dir.path(), LogConfig::default(), clock.clone());
    log.append(batch(0, 2)).unwrap();
    clock.set(1_600_000_000_000);
    log.append(batch(2, 2)).unwrap();
    let times: Vec<u64> = (0..4).map(|s| log.event(s).unwrap().time).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    log.close().unwrap();
    clock.set(1_500_000_000_000);
    let (log, _) = open_with_clock(dir.path(), LogConfig::default(), clock);
    log.append(batch(4, 1)).unwrap();
    assert!(log.event(4).unwrap().time > times[3]);
}

#[test]
fn signed_batch_is_kept_and_verified_and_a_forged_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let publisher = publisher_key();
    let actor = ActorKey(publisher.public_key());
    let changes = vec![(Op::Add, quad(1)), (Op::Remove, quad(2))];
    let signed = Batch::signed(actor, changes.clone(), |m| publisher.sign(m)).unwrap();
    log.append(signed.clone()).unwrap();
    assert_eq!(log.event(1).unwrap().actor, actor);
    let mut forged = signed;
    forged.changes[0].1 = quad(3);
    assert!(matches!(log.append(forged), Err(LogError::Event(_))));
    let mut bad_sig = Batch::signed(actor, changes, |m| publisher.sign(m)).unwrap();
    bad_sig.signature = Some(BatchSignature([0; 64]));
    assert!(log.append(bad_sig).is_err());
    assert_eq!(log.size(), 2);
    log.close().unwrap();
    let report = verify_log(
        dir.path(),
        &node_key().verifier(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(report.signed_batches, 1);
}

#[test]
fn batches_over_the_limits_are_refused_and_append_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        batch_events_max: 10,
        batch_bytes_max: 1_000,
        ..LogConfig::default()
    };
    let (log, _) = open(dir.path(), config);
    assert!(matches!(
        log.append(batch(0, 11)),
        Err(LogError::Limit { .. })
    ));
    assert!(matches!(
        log.append(batch(0, 9)),
        Err(LogError::Limit { .. })
    ));
    assert!(matches!(
        log.append(batch(0, 0)),
        Err(LogError::Limit { .. })
    ));
    assert_eq!(log.size(), 0);
    let blank = Batch::unsigned(
        ActorKey(node_key().public_key()),
        vec![(
            Op::Add,
            oxrdf::Quad::new(
                oxrdf::BlankNode::default(),
                quad(0).predicate,
                quad(0).object,
                oxrdf::GraphName::DefaultGraph,
            ),
        )],
    );
    assert!(
        matches!(log.append(blank), Err(LogError::Event(_))),
        "blank nodes must be skolemized before the log"
    );
    assert_eq!(log.size(), 0);
}

#[test]
fn concurrent_appenders_get_disjoint_contiguous_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), small_segments());
    let log = Arc::new(log);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..25u64)
                    .map(|i| log.append(batch(t * 1000 + i * 2, 2)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acks: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    acks.sort_by_key(|a| a.first_seq);
    let mut next = 0;
    for ack in &acks {
        assert_eq!(ack.first_seq, next);
        assert!(ack.checkpoint.checkpoint.size >= ack.first_seq + ack.count);
        next += ack.count;
    }
    assert_eq!(log.size(), 400);
    let times: Vec<u64> = (0..400).map(|s| log.event(s).unwrap().time).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_read_only_reader_sees_what_the_stored_checkpoint_covers_while_the_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        checkpoint_store_events: 1,
        ..LogConfig::default()
    };
    let (log, _) = open(dir.path(), config);
    log.append(batch(0, 3)).unwrap();
    let reader =
        ledgraph::log::LogReader::open_read_only(dir.path(), node_key().verifier()).unwrap();
    assert_eq!(reader.size(), 3);
    assert_eq!(reader.event(2).unwrap().quad, quad(2));
    assert_eq!(
        reader.checkpoint().checkpoint.root,
        log.checkpoint().checkpoint.root
    );
    let proof = reader.inclusion_proof(1, None).unwrap();
    verify_inclusion(
        &proof.leaf_hash,
        1,
        3,
        &proof.hashes,
        &log.root_at(3).unwrap(),
    )
    .unwrap();
    log.append(batch(3, 1)).unwrap();
    assert!(
        matches!(reader.event(3), Err(LogError::Range(_))),
        "a reader never shows unverified state"
    );
}
