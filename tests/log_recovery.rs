//! Recovery: torn tails are truncated to the last complete transaction; anything else that is
//! damaged is a typed `Corruption`, never a panic and never a silent accept.

mod common;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use common::{batch, copy_dir, node_key, open, quad, write_keys};
use ledgraph::log::verify::{VerifyOptions, verify_log};
use ledgraph::log::{Log, LogConfig, LogError};

fn only_segment(data: &Path) -> PathBuf {
    data.join("log/segments/00000000000000000000.seg")
}

fn try_open(data: &Path) -> Result<(Log, ledgraph::log::RecoveryReport), LogError> {
    write_keys(data);
    Log::open(
        data,
        node_key(),
        LogConfig::default(),
        std::sync::Arc::new(ledgraph::event::hlc::SystemClock),
    )
}

/// A log of 3 transactions (2+3+1 events) as it would be on disk after a crash while the last
/// transaction was being written: its records are in the segment, but no checkpoint covers it
/// (checkpoints are signed only after the fsync). Returns the data dir and the byte offset where
/// the last transaction starts.
fn crashed_during_last_transaction(root: &Path) -> (PathBuf, u64, u64) {
    let before = root.join("before");
    let (log, _) = open(&before, LogConfig::default());
    log.append(batch(0, 2)).unwrap();
    log.append(batch(2, 3)).unwrap();
    log.close().unwrap();
    let txn_start = std::fs::metadata(only_segment(&before)).unwrap().len();
    let after = root.join("after");
    copy_dir(&before, &after);
    let (log, _) = open(&after, LogConfig::default());
    log.append(batch(5, 2)).unwrap();
    log.close().unwrap();
    let full = std::fs::read(only_segment(&after)).unwrap();
    std::fs::write(only_segment(&before), &full).unwrap();
    (before, txn_start, full.len() as u64)
}

#[test]
fn truncating_the_last_transaction_at_every_byte_offset_recovers_the_preceding_ones() {
    let root = tempfile::tempdir().unwrap();
    let (crashed, txn_start, full_len) = crashed_during_last_transaction(root.path());
    for cut in txn_start..full_len {
        let data = root.path().join(format!("cut-{cut}"));
        copy_dir(&crashed, &data);
        let segment = only_segment(&data);
        OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let (log, report) = try_open(&data).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(report.events, 5, "cut at {cut}");
        assert_eq!(report.truncated_bytes, cut - txn_start, "cut at {cut}");
        assert_eq!(log.event(4).unwrap().quad, quad(4));
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), txn_start);
        log.close().unwrap();
        verify_log(&data, &node_key().verifier(), &VerifyOptions::default()).unwrap();
        std::fs::remove_dir_all(&data).unwrap();
    }
    let (log, report) = try_open(&crashed).unwrap();
    assert_eq!(
        (report.events, report.truncated_bytes),
        (7, 0),
        "the uncut transaction is complete and kept"
    );
    assert_eq!(log.event(6).unwrap().quad, quad(6));
}

#[test]
fn zero_filled_tail_after_power_loss_is_truncated() {
    let root = tempfile::tempdir().unwrap();
    let (crashed, txn_start, _) = crashed_during_last_transaction(root.path());
    let segment = only_segment(&crashed);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.truncate(txn_start as usize);
    bytes.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&segment, &bytes).unwrap();
    let (_, report) = try_open(&crashed).unwrap();
    assert_eq!((report.events, report.truncated_bytes), (5, 4096));
}

#[test]
fn damage_before_the_tail_is_corruption_naming_file_and_offset() {
    let root = tempfile::tempdir().unwrap();
    let (crashed, txn_start, _) = crashed_during_last_transaction(root.path());
    let segment = only_segment(&crashed);
    let mut bytes = std::fs::read(&segment).unwrap();
    let victim = (txn_start - 20) as usize;
    bytes[victim] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();
    // Open only rescans past the durable watermark (so that it costs the tail, not the log);
    // without a watermark it rescans everything. Reads and `log verify` cover the rest.
    std::fs::remove_file(crashed.join("log/derived")).unwrap();
    match try_open(&crashed) {
        Err(LogError::Corruption { path, offset, .. }) => {
            assert_eq!(path, segment);
            assert!(offset <= victim as u64);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_log_shorter_than_its_signed_checkpoint_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    log.append(batch(0, 2)).unwrap();
    log.close().unwrap();
    let len = std::fs::metadata(only_segment(dir.path())).unwrap().len();
    let old_watermark = std::fs::read(dir.path().join("log/derived")).unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    log.append(batch(2, 2)).unwrap();
    log.close().unwrap();
    // Cutting an acknowledged transaction looks like a torn tail, but a checkpoint covers it.
    OpenOptions::new()
        .write(true)
        .open(only_segment(dir.path()))
        .unwrap()
        .set_len(len)
        .unwrap();
    std::fs::write(dir.path().join("log/derived"), old_watermark).unwrap();
    let err = try_open(dir.path()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(
        err.to_string().contains("acknowledged events are missing"),
        "{err}"
    );
}

#[test]
fn lost_derived_files_are_rebuilt_from_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        derived_sync_events: u64::MAX,
        ..common::small_segments()
    };
    let (log, _) = open(dir.path(), config.clone());
    for i in 0..30 {
        log.append(batch(i * 2, 2)).unwrap();
    }
    let root = log.checkpoint().checkpoint.root;
    // Simulate a crash after the segments were fsynced but before the derived files were:
    // the watermark still says 0 events and the index/tree lost their tails.
    std::mem::forget(log);
    let log_dir = dir.path().join("log");
    std::fs::remove_file(log_dir.join("derived")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(log_dir.join("index"))
        .unwrap()
        .set_len(8 + 12 * 7)
        .unwrap();
    std::fs::remove_file(log_dir.join("LOCK")).unwrap();
    let (log, report) = Log::open(
        dir.path(),
        node_key(),
        config,
        std::sync::Arc::new(ledgraph::event::hlc::SystemClock),
    )
    .unwrap();
    assert_eq!((report.events, report.rebuilt_events), (60, 60));
    assert_eq!(log.root_at(60).unwrap(), root);
    assert_eq!(log.event(59).unwrap().quad, quad(59));
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    assert!(matches!(try_open(dir.path()), Err(LogError::Locked { .. })));
    log.close().unwrap();
    assert!(try_open(dir.path()).is_ok());
}
