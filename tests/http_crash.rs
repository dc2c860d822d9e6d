//! Crash test for the server: `ledgraph serve` is SIGKILLed while client threads publish over
//! HTTP, a few times over the same data directory. Whatever got a 201 must survive: after the
//! last restart every acknowledged event is in the log at the sequence number the 201 gave,
//! the store serves it, every published batch is in the log wholly or not at all, `log verify`
//! passes, and the store that lived through the kills hashes the same as one replayed afresh
//! from the log.
//!
//! Each client publishes N-Triples batches of 1–5 triples whose subjects name the cycle, client
//! and batch, so the log can be matched back to what was sent. The seed (printed; replay with
//! `LEDGRAPH_TEST_SEED`) picks batch sizes and when each kill lands.

#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Rng;
use common::cli::ledgraph;

const CYCLES: u64 = 6;
const CLIENTS: u64 = 4;
const PREDICATE: &str = "urn:crash:p";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
const PROJECTION_WAIT: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// A kill lands this long (ms, drawn from the range) after the clients start.
const KILL_AFTER_MS: (u64, u64) = (50, 900);

/// One published batch and what the server answered.
#[derive(Debug, Clone)]
struct Sent {
    /// `(subject, object)` of each triple, in the body's order.
    triples: Vec<(String, String)>,
    /// `(first_seq, count)` from the 201, if one came back.
    acked: Option<(u64, u64)>,
}

/// A running `ledgraph serve`.
struct Server {
    child: Child,
    base: String,
    stderr: PathBuf,
}

impl Server {
    fn start(data: &Path, stderr: PathBuf) -> Server {
        let log = std::fs::File::create(&stderr).expect("server stderr file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ledgraph"));
        for (name, _) in std::env::vars() {
            if name.starts_with("LEDGRAPH_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["serve", "--data"])
            .arg(data)
            .args(["--bind", "127.0.0.1:0", "--no-demo"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn ledgraph serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("web UI:") {
                    let _ = tx.send(rest.trim().trim_end_matches('/').to_owned());
                }
            }
        });
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(base) => Server {
                child,
                base,
                stderr,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ledgraph serve did not start within {STARTUP_TIMEOUT:?}:\n{}",
                    tail(&stderr)
                );
            }
        }
    }

    fn sigkill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// SIGTERM, and the exit status must be success (graceful shutdown).
    fn sigterm(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM");
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                assert!(
                    status.success(),
                    "the server exited with {status} after SIGTERM:\n{}",
                    tail(&self.stderr)
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the server did not stop within {SHUTDOWN_TIMEOUT:?} of SIGTERM:\n{}",
                    tail(&self.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build(),
    )
}

/// GET `path`, asserting 200, as JSON.
fn get_json(base: &str, path: &str) -> serde_json::Value {
    let mut response = agent()
        .get(format!("{base}{path}"))
        .header(
            "Accept",
            "application/sparql-results+json, application/json",
        )
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {path}: reading the body: {e}"));
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
}

/// Publishes batches until the server stops answering; returns every batch it tried.
fn client(base: String, cycle: u64, id: u64, seed: u64) -> Vec<Sent> {
    let mut rng = Rng::new(seed);
    let agent = agent();
    let mut sent = Vec::new();
    let mut batch = 0u64;
    loop {
        batch += 1;
        let triples: Vec<(String, String)> = (0..rng.range(1, 6))
            .map(|k| {
                (
                    format!("urn:crash:c{cycle}:t{id}:b{batch}:k{k}"),
                    format!("c{cycle} t{id} b{batch} k{k}"),
                )
            })
            .collect();
        let body: String = triples
            .iter()
            .map(|(s, o)| format!("<{s}> <{PREDICATE}> \"{o}\" .\n"))
            .collect();
        let answer = agent
            .post(format!("{base}/v1/events"))
            .header("Content-Type", "application/n-triples")
            .send(body);
        let mut response = match answer {
            Ok(response) => response,
            Err(_) => {
                // The server is gone (killed mid-request or before it); this batch may or may
                // not have been appended.
                sent.push(Sent {
                    triples,
                    acked: None,
                });
                return sent;
            }
        };
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if status != 201 {
            // A 503 while shutting down is fine; nothing else is.
            assert!(
                status == 503 || text.is_empty(),
                "publish answered {status}: {text}"
            );
            sent.push(Sent {
                triples,
                acked: None,
            });
            return sent;
        }
        let json: serde_json::Value = match serde_json::from_str(&text) {
            Ok(json) => json,
            // The body was cut off by the kill: not an acknowledgement we can count.
            Err(_) => {
                sent.push(Sent {
                    triples,
                    acked: None,
                });
                return sent;
            }
        };
        let first = json["first_seq"].as_u64().expect("first_seq");
        let count = json["count"].as_u64().expect("count");
        assert_eq!(
            count,
            triples.len() as u64,
            "201 for the wrong count: {json}"
        );
        sent.push(Sent {
            triples,
            acked: Some((first, count)),
        });
    }
}

/// Every log entry (via `/v1/log/entries`, following `next`).
fn log_entries(base: &str) -> Vec<serde_json::Value> {
    let mut entries = Vec::new();
    let mut from = Some(0u64);
    while let Some(start) = from {
        let page = get_json(base, &format!("/v1/log/entries?from={start}&limit=1000"));
        entries.extend(page["entries"].as_array().expect("entries").iter().cloned());
        from = page["next"].as_u64();
    }
    entries
}

fn wait_for_projection(base: &str) {
    let deadline = Instant::now() + PROJECTION_WAIT;
    loop {
        let ready = get_json(base, "/readyz");
        if ready["state_applied"] == ready["log_size"] && ready["status"] == "ready" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the projection did not catch up within {PROJECTION_WAIT:?}: {ready}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ledgraph_ok(data: &Path, args: &[&str]) -> String {
    let out = ledgraph(data, args);
    assert!(
        out.status.success(),
        "ledgraph {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[test]
fn sigkill_while_publishing_over_http_loses_no_acknowledged_event() {
    let mut rng = Rng::from_env("sigkill_while_publishing_over_http_loses_no_acknowledged_event");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut sent: Vec<Sent> = Vec::new();

    for cycle in 0..CYCLES {
        let server = Server::start(&data, dir.path().join(format!("serve-{cycle}.stderr")));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let (base, seed) = (server.base.clone(), rng.next());
                std::thread::spawn(move || client(base, cycle, id, seed))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(
            rng.range(KILL_AFTER_MS.0, KILL_AFTER_MS.1),
        ));
        server.sigkill();
        for handle in clients {
            sent.extend(handle.join().expect("client thread"));
        }
    }

    // Restart once more: recovery, then the projection catches up with the recovered log.
    let server = Server::start(&data, dir.path().join("serve-final.stderr"));
    wait_for_projection(&server.base);
    let entries = log_entries(&server.base);
    let at: BTreeMap<String, (u64, &serde_json::Value)> = entries
        .iter()
        .map(|e| {
            let s = e["s"].as_str().expect("s");
            let subject = s.trim_start_matches('<').trim_end_matches('>').to_owned();
            (subject, (e["seq"].as_u64().expect("seq"), e))
        })
        .collect();
    assert_eq!(at.len(), entries.len(), "a subject was logged twice");

    let mut acked_events = 0;
    for batch in &sent {
        let present: Vec<u64> = batch
            .triples
            .iter()
            .filter_map(|(s, _)| at.get(s).map(|(seq, _)| *seq))
            .collect();
        // Wholly present or wholly absent, and when present, one transaction in body order.
        assert!(
            present.is_empty() || present.len() == batch.triples.len(),
            "batch {batch:?} is partly in the log (at {present:?})"
        );
        if let Some(&first) = present.first() {
            let expected: Vec<u64> = (first..first + present.len() as u64).collect();
            assert_eq!(present, expected, "batch {batch:?} is not contiguous");
            let last = &at[&batch.triples[batch.triples.len() - 1].0].1;
            assert_eq!(last["ends_transaction"], true, "{batch:?}");
        }
        if let Some((first, count)) = batch.acked {
            assert_eq!(
                present.first().copied(),
                Some(first),
                "acknowledged batch {batch:?} (first_seq {first}, count {count}) is missing or moved"
            );
            for (k, (s, o)) in batch.triples.iter().enumerate() {
                let entry = at[s].1;
                assert_eq!(entry["seq"].as_u64(), Some(first + k as u64));
                assert_eq!(entry["op"], "add");
                assert_eq!(entry["p"], format!("<{PREDICATE}>"));
                assert_eq!(entry["o"], format!("\"{o}\""));
            }
            acked_events += count;
        }
    }
    let acked_batches = sent.iter().filter(|b| b.acked.is_some()).count();
    eprintln!(
        "{CYCLES} kills, {} batches sent, {acked_batches} acknowledged ({acked_events} events), log size {}",
        sent.len(),
        entries.len()
    );
    assert!(
        acked_batches >= CYCLES as usize * 2,
        "the clients must make progress before the kills ({acked_batches} acknowledged)"
    );

    // The store serves exactly what the log holds.
    let results = get_json(
        &server.base,
        &format!(
            "/sparql?query={}",
            encode(&format!("SELECT ?s ?o WHERE {{ ?s <{PREDICATE}> ?o }}"))
        ),
    );
    let in_store: BTreeSet<(String, String)> = results["results"]["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| {
            (
                b["s"]["value"].as_str().expect("s").to_owned(),
                b["o"]["value"].as_str().expect("o").to_owned(),
            )
        })
        .collect();
    let in_log: BTreeSet<(String, String)> = sent
        .iter()
        .flat_map(|b| b.triples.iter())
        .filter(|(s, _)| at.contains_key(s))
        .cloned()
        .collect();
    assert_eq!(in_store, in_log, "the store differs from the log");
    for batch in sent.iter().filter(|b| b.acked.is_some()).take(20) {
        let (s, o) = &batch.triples[0];
        let ask = get_json(
            &server.base,
            &format!(
                "/sparql?query={}",
                encode(&format!("ASK {{ <{s}> <{PREDICATE}> \"{o}\" }}"))
            ),
        );
        assert_eq!(ask["boolean"], true, "ASK for acknowledged <{s}>");
    }
    server.sigterm();

    ledgraph_ok(&data, &["log", "verify"]);
    let live = ledgraph_ok(&data, &["store", "hash"]);
    let replayed_dir = dir.path().join("replayed");
    ledgraph_ok(
        &data,
        &[
            "replay",
            "--into",
            replayed_dir.to_str().expect("utf-8 path"),
        ],
    );
    let replayed = ledgraph_ok(
        &data,
        &[
            "store",
            "hash",
            "--store",
            replayed_dir.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(
        live.trim(),
        replayed.trim(),
        "the store that lived through the kills differs from a fresh replay"
    );
    assert_eq!(live.trim().len(), 64, "a SHA-256 in hex: {live}");
}
