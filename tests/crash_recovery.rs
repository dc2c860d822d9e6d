//! Crash test: a child process appends concurrently and is SIGKILLed at a random moment, 100
//! times over the same log. After each kill the log is reopened (recovery); every event that
//! was acknowledged must be there with its content, and `log verify` must pass.
//!
//! The child is this test binary re-executed with `LEDGRAPH_CRASH_CHILD` set; it prints one
//! `ack <first_seq> <count> <base>` line after each acknowledged batch (events are
//! `quad(base..base+count)`).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Rng, batch, node_key, open, quad};
use ledgraph::log::LogConfig;
use ledgraph::log::verify::{VerifyOptions, verify_log};

const CHILD_ENV: &str = "LEDGRAPH_CRASH_CHILD";
const CYCLES: u64 = 100;
const APPENDERS: u64 = 4;

/// Small segments and frequent derived-file syncs, so kills land in every phase.
fn crash_config() -> LogConfig {
    LogConfig {
        segment_bytes_max: 64 << 10,
        derived_sync_events: 97,
        checkpoint_store_events: 50,
        ..LogConfig::default()
    }
}

/// Runs only inside the child process.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (log, _) = open(Path::new(&dir), crash_config());
    let log = Arc::new(log);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let cycle: u64 = std::env::var("LEDGRAPH_CRASH_CYCLE")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let threads: Vec<_> = (0..APPENDERS)
        .map(|t| {
            let (log, out) = (log.clone(), out.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(cycle * 1_000 + t + 1);
                for i in 0u64.. {
                    let base = ((cycle * APPENDERS + t) << 32) | (i << 4);
                    let count = rng.range(1, 6);
                    let ack = log
                        .append(batch(base, count))
                        .expect("append in crash child");
                    let mut out = out.lock().expect("stdout lock");
                    writeln!(out, "ack {} {} {}", ack.first_seq, ack.count, base).expect("stdout");
                    out.flush().expect("flush");
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn sigkill_during_concurrent_appends_loses_no_acknowledged_event() {
    let mut rng = Rng::from_env("sigkill_during_concurrent_appends_loses_no_acknowledged_event");
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: HashMap<u64, u64> = HashMap::new(); // seq -> quad index
    let mut kills_with_torn_tail = 0;
    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("LEDGRAPH_CRASH_CYCLE", cycle.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => lines.push(l),
                    Err(_) => break,
                }
            }
            lines
        });
        std::thread::sleep(Duration::from_millis(rng.range(20, 120)));
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        for line in lines {
            let parts: Vec<u64> = line
                .strip_prefix("ack ")
                .unwrap_or("")
                .split(' ')
                .filter_map(|p| p.parse().ok())
                .collect();
            if let [first, count, base] = parts[..] {
                for k in 0..count {
                    acked.insert(first + k, base + k);
                }
            }
        }
        let (log, report) = open(dir.path(), crash_config());
        if report.truncated_bytes > 0 {
            kills_with_torn_tail += 1;
        }
        assert!(
            report.events >= acked.len() as u64,
            "cycle {cycle}: {} events but {} acknowledged",
            report.events,
            acked.len()
        );
        for (&seq, &i) in &acked {
            let event = log.event(seq).unwrap_or_else(|e| {
                panic!("cycle {cycle}: acknowledged event {seq} unreadable: {e}")
            });
            assert_eq!(event.quad, quad(i), "cycle {cycle}: event {seq}");
        }
        log.close().unwrap();
        verify_log(
            dir.path(),
            &node_key().verifier(),
            &VerifyOptions::default(),
        )
        .unwrap_or_else(|e| panic!("cycle {cycle}: verify failed: {e}"));
    }
    eprintln!(
        "{CYCLES} kills, {} acknowledged events checked, {kills_with_torn_tail} torn tails truncated",
        acked.len()
    );
    assert!(acked.len() > 100, "the child must have made progress");
}
