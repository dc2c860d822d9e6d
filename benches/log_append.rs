//! Append throughput, proof latency, verification speed and memory of the signed log.
//!
//! # What is measured, and against what
//!
//! Every event is a 200-byte canonical event (checked at start-up). The bench measures:
//!
//! 1. `fsync_per_event_baseline`: the peer, measured in the same run — a naive appender that
//!    does `write_all` + `File::sync_data()` per event on a plain file, single thread.
//! 2. `group_commit_throughput`: ledgraph events/s with 1, 8 and 64 appender threads, each
//!    appending single-event batches and 100-event batches for a fixed duration, on a fresh log
//!    per run. `ratio` = events/s ÷ the baseline's events/s. 1 thread × 1 event is ledgraph's
//!    own fsync-per-event case. Events are generated in the appender threads (pre-building a
//!    few seconds of 100-event batches would need GBs); `event_build_cost` measures that
//!    generation alone (ns/event, one thread) so its share can be subtracted.
//!    `events_per_fsync` (events ÷ distinct acknowledged checkpoints) and `cpu_cores_busy`
//!    (process CPU time ÷ wall time; the machine has 2 cores) say where the time goes.
//! 3. For log sizes `MEDIUM` and `LARGE`, in a child process (the bench re-executes itself)
//!    so memory figures are the log's, not the parent's: `log_build_throughput` (64 threads ×
//!    1,000-event batches generated on the fly, one run), `inclusion_proof_us` and
//!    `consistency_proof_us` (median and p99 over random sequence numbers / sizes from a seeded
//!    xorshift; the page cache is warm from the build), `verify_throughput` (`verify_log`
//!    in-process on the closed log) and peak RSS:
//!    - `peak_rss_after_build`: the child's `VmHWM` right after the build. It includes the
//!      log's writer threads and buffers, the 64 appender threads with their in-flight
//!      batches (64 × 1,000 events, decoded + encoded, ≈ 30 MB) and the allocator's arenas —
//!      i.e. a server with 64 concurrent 1,000-event writers.
//!    - `peak_rss_during_verify`: `VmHWM` reset (`/proc/self/clear_refs` = 5) before verifying.
//!
//! Targets are printed alongside (`target`, `target_met`): 64 appenders single events
//! ≥ 100,000 events/s and ≥ 40× baseline; 64 appenders × 100-event batches ≥ 1,000,000
//! events/s; inclusion proof ≤ 20 µs; verify ≥ 1,000,000 events/s; peak RSS after building the
//! large log ≤ 200 MB.
//!
//! # How to run
//!
//! `cargo bench --bench log_append`, tuned by environment variables:
//! `LEDGRAPH_BENCH_RUNS` (3) repetitions of each timed measurement; `LEDGRAPH_BENCH_SECONDS`
//! (3) per group-commit run (the baseline runs ⅔ of it); `LEDGRAPH_BENCH_MEDIUM` (1,000,000)
//! and `LEDGRAPH_BENCH_LARGE` (10,000,000) log sizes; `LEDGRAPH_BENCH_PROOFS` (10,000) proofs
//! per run; `LEDGRAPH_BENCH_SEED` for the proof RNG; `LEDGRAPH_BENCH_DIR` (the system temp
//! dir) for data, which needs ≈ 330 bytes per event of the large log free. A quick run:
//! `LEDGRAPH_BENCH_LARGE=200000 LEDGRAPH_BENCH_MEDIUM=100000 LEDGRAPH_BENCH_RUNS=1 cargo bench --bench log_append`.
//!
//! # Reading the output
//!
//! stdout carries one JSON object per measurement:
//! `{"bench":"log_append","metric":…,"value":…,"unit":…,<parameters>,"runs":N,"median":…,"samples":[…],…}`;
//! `value` is the median of `samples` (one per run), and `load1` the 1-minute load average
//! when the line was written (the machine is shared: a high load means noisy numbers).
//! Progress goes to stderr. MB = 10⁶ bytes.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use ledgraph::event::hlc::SystemClock;
use ledgraph::event::{ActorKey, Batch, Event, Op};
use ledgraph::keys::NodeKey;
use ledgraph::log::verify::{VerifyOptions, verify_log};
use ledgraph::log::{Log, LogConfig};
use oxrdf::{GraphName, Literal, NamedNode, Quad};
use serde_json::{Value, json};

const EVENT_BYTES: usize = 200;
/// Disk needed per event: 213-byte record, 12-byte index entry, ~64 bytes of tree, commits.
const DISK_BYTES_PER_EVENT: u64 = 330;
const BUILD_THREADS: usize = 64;
const BUILD_BATCH: u64 = 1_000;
const CHILD_EVENTS_ENV: &str = "LEDGRAPH_BENCH_CHILD_EVENTS";
const CHILD_DIR_ENV: &str = "LEDGRAPH_BENCH_CHILD_DIR";
const SUBJECT_PREFIX: &str = "http://bench.ledgraph.example/sensor/";
const PREDICATE: &str = "http://bench.ledgraph.example/vocab#observedValue";

struct Settings {
    runs: usize,
    seconds: f64,
    medium: u64,
    large: u64,
    proofs: usize,
    seed: u64,
    dir: PathBuf,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}")),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> Result<Self> {
        let s = Settings {
            runs: env_or("LEDGRAPH_BENCH_RUNS", 3)?,
            seconds: env_or("LEDGRAPH_BENCH_SECONDS", 3.0)?,
            medium: env_or("LEDGRAPH_BENCH_MEDIUM", 1_000_000)?,
            large: env_or("LEDGRAPH_BENCH_LARGE", 10_000_000)?,
            proofs: env_or("LEDGRAPH_BENCH_PROOFS", 10_000)?,
            seed: env_or("LEDGRAPH_BENCH_SEED", 0x5EED_1ED6_4A9F_0001)?,
            dir: std::env::var_os("LEDGRAPH_BENCH_DIR")
                .map_or_else(std::env::temp_dir, PathBuf::from),
        };
        ensure!(
            s.runs > 0 && s.seconds > 0.0 && s.proofs > 0 && s.seed != 0,
            "runs, seconds, proofs and seed must be > 0"
        );
        ensure!(
            s.medium > 1 && s.large > 1,
            "log sizes must be at least 2 events"
        );
        Ok(s)
    }
}

fn node_key() -> Result<NodeKey> {
    NodeKey::from_seed("bench.local/log", [7u8; 32]).context("bench key")
}

fn open_log(data_dir: &Path) -> Result<Log> {
    let (log, _) = Log::open(
        data_dir,
        node_key()?,
        LogConfig::default(),
        Arc::new(SystemClock),
    )
    .with_context(|| format!("open log in {}", data_dir.display()))?;
    Ok(log)
}

fn temp_dir(s: &Settings) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("ledgraph-bench-")
        .tempdir_in(&s.dir)
        .with_context(|| format!("create a temp dir in {}", s.dir.display()))
}

/// Generates distinct 200-byte events; `stream` keeps the subjects of each thread apart.
struct EventGen {
    actor: ActorKey,
    predicate: NamedNode,
    pad: String,
    stream: u64,
    next: u64,
}

impl EventGen {
    fn new(actor: ActorKey, stream: u64) -> Self {
        // 58 bytes of framing (42 header + 3 × 5 term headers + 1 graph tag), subject = prefix
        // + 17 digits/slash, object = pad + 17 digits/dash.
        let used = 58 + SUBJECT_PREFIX.len() + 17 + PREDICATE.len() + 17;
        let pad = "v".repeat(EVENT_BYTES.saturating_sub(used));
        EventGen {
            actor,
            predicate: NamedNode::new_unchecked(PREDICATE),
            pad,
            stream,
            next: 0,
        }
    }

    fn quad(&mut self) -> Quad {
        let (stream, n) = (self.stream % 10_000, self.next % 1_000_000_000_000);
        self.next += 1;
        Quad::new(
            NamedNode::new_unchecked(format!("{SUBJECT_PREFIX}{stream:04}/{n:012}")),
            self.predicate.clone(),
            Literal::new_simple_literal(format!("{}{stream:04}-{n:012}", self.pad)),
            GraphName::DefaultGraph,
        )
    }

    fn batch(&mut self, events: usize) -> Batch {
        Batch::unsigned(
            self.actor,
            (0..events).map(|_| (Op::Add, self.quad())).collect(),
        )
    }
}

fn actor() -> Result<ActorKey> {
    Ok(ActorKey(node_key()?.public_key()))
}

/// xorshift64*: deterministic, dependency-free random numbers for choosing proofs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn median(samples: &[f64]) -> f64 {
    let v = sorted(samples);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn p99(samples: &[f64]) -> f64 {
    let v = sorted(samples);
    v[((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1]
}

fn round(x: f64) -> f64 {
    if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 1000.0).round() / 1000.0
    }
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

type Fields = Vec<(&'static str, Value)>;

/// Writes one measurement as a JSON line (fields in this order) and returns its median.
fn emit(metric: &str, unit: &str, samples: &[f64], params: Fields, extra: Fields) -> Result<f64> {
    let m = median(samples);
    let mut fields: Fields = vec![
        ("bench", json!("log_append")),
        ("metric", json!(metric)),
        ("value", json!(round(m))),
        ("unit", json!(unit)),
    ];
    fields.extend(params);
    fields.push(("runs", json!(samples.len())));
    fields.push(("median", json!(round(m))));
    fields.push((
        "samples",
        json!(samples.iter().copied().map(round).collect::<Vec<_>>()),
    ));
    fields.extend(extra);
    fields.push(("load1", json!(load1())));
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{{{}}}", body.join(",")).context("write stdout")?;
    out.flush().context("flush stdout")?;
    Ok(m)
}

fn target(description: &str, met: bool) -> Fields {
    vec![("target", json!(description)), ("target_met", json!(met))]
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the zero-initialised struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A `/proc/self/status` field in kB (`VmHWM`, `VmRSS`), as MB.
fn status_mb(field: &str) -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("{field} missing"))?;
    let kb: f64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .context("parse kB")?;
    Ok(kb * 1024.0 / 1e6)
}

fn free_bytes(dir: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c =
        std::ffi::CString::new(dir.as_os_str().as_bytes()).context("dir path has a NUL byte")?;
    // SAFETY: statvfs writes only into the zero-initialised struct; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statvfs {}", dir.display()));
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

/// ns per event to generate events (the appender threads' own work, not the log's).
fn build_cost(s: &Settings, actor: ActorKey, batch: usize) -> Result<f64> {
    let total = 100_000 / batch * batch;
    let mut samples = Vec::new();
    for run in 0..s.runs {
        let mut generator = EventGen::new(actor, run as u64);
        let start = Instant::now();
        for _ in 0..total / batch {
            std::hint::black_box(generator.batch(batch));
        }
        samples.push(start.elapsed().as_nanos() as f64 / total as f64);
    }
    emit(
        "event_build_cost",
        "ns/event",
        &samples,
        vec![("batch_events", json!(batch))],
        vec![],
    )
}

/// Naive peer: `write_all` + `sync_data` per 200-byte event, one thread.
fn fsync_baseline(s: &Settings, event: &[u8]) -> Result<f64> {
    let seconds = s.seconds * 2.0 / 3.0;
    let mut samples = Vec::new();
    for run in 0..s.runs {
        let tmp = temp_dir(s)?;
        let path = tmp.path().join("naive.log");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .context("create naive log file")?;
        let (start, mut n) = (Instant::now(), 0u64);
        while start.elapsed().as_secs_f64() < seconds {
            file.write_all(event).context("naive write")?;
            file.sync_data().context("naive fsync")?;
            n += 1;
        }
        samples.push(n as f64 / start.elapsed().as_secs_f64());
        eprintln!("baseline run {}: {:.0} events/s", run + 1, samples[run]);
    }
    let params = vec![
        ("threads", json!(1)),
        ("event_bytes", json!(event.len())),
        ("seconds", json!(seconds)),
    ];
    emit(
        "fsync_per_event_baseline",
        "events/s",
        &samples,
        params,
        vec![],
    )
}

/// One fixed-duration run; returns (events/s, events per fsync, CPU cores busy).
fn group_commit_run(
    s: &Settings,
    actor: ActorKey,
    threads: usize,
    batch: usize,
    run: usize,
) -> Result<(f64, f64, f64)> {
    let tmp = temp_dir(s)?;
    let log = open_log(tmp.path())?;
    let barrier = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    let (results, elapsed, cpu) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (log, barrier, stop) = (&log, &barrier, &stop);
                scope.spawn(move || -> Result<(u64, Vec<u64>)> {
                    let mut generator = EventGen::new(actor, (run * threads + t) as u64);
                    let (mut events, mut sizes) = (0u64, Vec::new());
                    barrier.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let ack = log.append(generator.batch(batch)).context("append")?;
                        events += ack.count;
                        sizes.push(ack.checkpoint.checkpoint.size);
                    }
                    Ok((events, sizes))
                })
            })
            .collect();
        barrier.wait();
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        std::thread::sleep(Duration::from_secs_f64(s.seconds));
        stop.store(true, Ordering::Relaxed);
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("appender thread panicked"))
            .collect();
        (
            results,
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu_start,
        )
    });
    log.close().context("close log")?;
    let (mut events, mut sizes) = (0u64, Vec::new());
    for r in results {
        let (e, run_sizes) = r?;
        events += e;
        sizes.extend(run_sizes);
    }
    sizes.sort_unstable();
    sizes.dedup();
    Ok((
        events as f64 / elapsed,
        events as f64 / sizes.len().max(1) as f64,
        cpu / elapsed,
    ))
}

fn group_commit(
    s: &Settings,
    actor: ActorKey,
    baseline: f64,
    build_ns: &[(usize, f64)],
) -> Result<()> {
    for batch in [1usize, 100] {
        for threads in [1usize, 8, 64] {
            let (mut rates, mut per_fsync, mut cores) = (Vec::new(), Vec::new(), Vec::new());
            for run in 0..s.runs {
                let (rate, p, c) = group_commit_run(s, actor, threads, batch, run)?;
                eprintln!(
                    "group commit {threads} threads × {batch}-event batches, run {}: {rate:.0} events/s",
                    run + 1
                );
                rates.push(rate);
                per_fsync.push(p);
                cores.push(c);
            }
            let m = median(&rates);
            let build = build_ns
                .iter()
                .find(|b| b.0 == batch)
                .map_or(f64::NAN, |b| b.1);
            let mut extra = vec![
                ("ratio", json!(round(m / baseline))),
                ("events_per_fsync", json!(round(median(&per_fsync)))),
                ("cpu_cores_busy", json!(round(median(&cores)))),
                ("build_ns_per_event", json!(round(build))),
            ];
            match (threads, batch) {
                (64, 1) => extra.extend(target(
                    ">= 100000 events/s and ratio >= 40",
                    m >= 100_000.0 && m / baseline >= 40.0,
                )),
                (64, 100) => extra.extend(target(">= 1000000 events/s", m >= 1_000_000.0)),
                _ => {}
            }
            let params = vec![
                ("threads", json!(threads)),
                ("batch_events", json!(batch)),
                ("seconds", json!(s.seconds)),
            ];
            emit("group_commit_throughput", "events/s", &rates, params, extra)?;
        }
    }
    Ok(())
}

/// Builds a log of `total` events with 64 threads × 1,000-event batches generated on the fly.
fn build_log(log: &Log, actor: ActorKey, total: u64) -> Result<f64> {
    let batches = total.div_ceil(BUILD_BATCH);
    let (next, done, finished) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let start = Instant::now();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..BUILD_THREADS)
            .map(|t| {
                let (next, done, finished) = (&next, &done, &finished);
                scope.spawn(move || {
                    let mut generator = EventGen::new(actor, t as u64);
                    let mut work = || -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= batches {
                                return Ok(());
                            }
                            let n = BUILD_BATCH.min(total - i * BUILD_BATCH);
                            log.append(generator.batch(n as usize))
                                .context("append while building")?;
                            done.fetch_add(n, Ordering::Relaxed);
                        }
                    };
                    let result = work();
                    finished.fetch_add(1, Ordering::Relaxed);
                    result
                })
            })
            .collect();
        let mut last_report = Instant::now();
        while finished.load(Ordering::Relaxed) < BUILD_THREADS as u64 {
            std::thread::sleep(Duration::from_millis(100));
            if last_report.elapsed() >= Duration::from_secs(5) {
                let d = done.load(Ordering::Relaxed);
                eprintln!(
                    "  built {d}/{total} events ({:.0} events/s)",
                    d as f64 / start.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("builder thread panicked"))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    ensure!(
        log.size() == total,
        "log holds {} events, expected {total}",
        log.size()
    );
    Ok(total as f64 / elapsed)
}

/// Times `proofs` calls of `f(rng)` per run; returns the per-run (median, p99) in µs.
fn time_calls(
    s: &Settings,
    rng: &mut XorShift,
    mut f: impl FnMut(&mut XorShift) -> Result<()>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut medians, mut p99s) = (Vec::new(), Vec::new());
    for _ in 0..s.runs {
        let mut us = Vec::with_capacity(s.proofs);
        for _ in 0..s.proofs {
            let start = Instant::now();
            f(rng)?;
            us.push(start.elapsed().as_nanos() as f64 / 1e3);
        }
        medians.push(median(&us));
        p99s.push(p99(&us));
    }
    Ok((medians, p99s))
}

/// Child process: build, prove, verify and measure memory for one log size.
fn child(s: &Settings, size: u64, data_dir: &Path) -> Result<()> {
    let actor = actor()?;
    let params = || vec![("events", json!(size))];
    let log = open_log(data_dir)?;
    let hwm_before = status_mb("VmHWM:")?;
    eprintln!("building a log of {size} events in {}", data_dir.display());
    let rate = build_log(&log, actor, size)?;
    let hwm = status_mb("VmHWM:")?;
    let mut p = params();
    p.extend([
        ("threads", json!(BUILD_THREADS)),
        ("batch_events", json!(BUILD_BATCH)),
    ]);
    emit("log_build_throughput", "events/s", &[rate], p, vec![])?;
    let extra = vec![
        ("vm_rss_mb", json!(round(status_mb("VmRSS:")?))),
        ("hwm_before_build_mb", json!(round(hwm_before))),
    ];
    let mut extra = [extra, target("<= 200 MB", hwm <= 200.0)].concat();
    extra.push((
        "includes",
        json!("whole bench child: log + 64 appender threads with in-flight 1000-event batches"),
    ));
    emit("peak_rss_after_build", "MB", &[hwm], params(), extra)?;

    let mut rng = XorShift(s.seed);
    let (med, p99s) = time_calls(s, &mut rng, |rng| {
        std::hint::black_box(
            log.inclusion_proof(rng.below(size), Some(size))
                .context("inclusion proof")?,
        );
        Ok(())
    })?;
    let proof_params = || {
        [
            params(),
            vec![("proofs_per_run", json!(s.proofs)), ("seed", json!(s.seed))],
        ]
        .concat()
    };
    for (metric, samples) in [
        ("inclusion_proof_us_median", &med),
        ("inclusion_proof_us_p99", &p99s),
    ] {
        emit(
            metric,
            "us",
            samples,
            proof_params(),
            target("<= 20 us", median(samples) <= 20.0),
        )?;
    }
    let (med, p99s) = time_calls(s, &mut rng, |rng| {
        std::hint::black_box(
            log.consistency_proof(1 + rng.below(size), size)
                .context("consistency proof")?,
        );
        Ok(())
    })?;
    emit(
        "consistency_proof_us_median",
        "us",
        &med,
        proof_params(),
        vec![],
    )?;
    emit(
        "consistency_proof_us_p99",
        "us",
        &p99s,
        proof_params(),
        vec![],
    )?;
    log.close().context("close log")?;

    let clear = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let verifier = node_key()?.verifier();
    let mut rates = Vec::new();
    for run in 0..s.runs {
        let start = Instant::now();
        let report =
            verify_log(data_dir, &verifier, &VerifyOptions::default()).context("verify_log")?;
        rates.push(report.events as f64 / start.elapsed().as_secs_f64());
        ensure!(
            report.events == size,
            "verify saw {} events, expected {size}",
            report.events
        );
        eprintln!("verify run {}: {:.0} events/s", run + 1, rates[run]);
    }
    emit(
        "verify_throughput",
        "events/s",
        &rates,
        params(),
        target(">= 1000000 events/s", median(&rates) >= 1e6),
    )?;
    let note = if clear {
        "VmHWM reset before verify"
    } else {
        "clear_refs failed: includes the build"
    };
    emit(
        "peak_rss_during_verify",
        "MB",
        &[status_mb("VmHWM:")?],
        params(),
        vec![("includes", json!(note))],
    )?;
    Ok(())
}

/// Runs [`child`] for one size in a fresh process and temp dir.
fn log_at_size(s: &Settings, size: u64) -> Result<()> {
    let (needed, free) = (size * DISK_BYTES_PER_EVENT, free_bytes(&s.dir)?);
    if free < needed + needed / 10 {
        bail!(
            "not enough disk for a log of {size} events in {}: need ~{:.1} GB, {:.1} GB free; \
             set LEDGRAPH_BENCH_DIR elsewhere or lower LEDGRAPH_BENCH_LARGE / LEDGRAPH_BENCH_MEDIUM",
            s.dir.display(),
            needed as f64 / 1e9,
            free as f64 / 1e9
        );
    }
    let tmp = temp_dir(s)?;
    let exe = std::env::current_exe().context("locate the bench executable")?;
    let status = Command::new(exe)
        .env(CHILD_EVENTS_ENV, size.to_string())
        .env(CHILD_DIR_ENV, tmp.path())
        .status()
        .context("run the child bench process")?;
    ensure!(
        status.success(),
        "child bench for {size} events failed: {status}"
    );
    Ok(())
}

fn main() -> Result<()> {
    let s = Settings::from_env()?;
    if let Ok(events) = std::env::var(CHILD_EVENTS_ENV) {
        let dir = std::env::var_os(CHILD_DIR_ENV).context("child needs its data dir")?;
        return child(
            &s,
            events.parse().context("child event count")?,
            Path::new(&dir),
        );
    }
    eprintln!(
        "log_append: {} runs, {} s per run, sizes {} and {}, data in {} ({} cores)",
        s.runs,
        s.seconds,
        s.medium,
        s.large,
        s.dir.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let actor = actor()?;
    let sample = Event {
        op: Op::Add,
        quad: EventGen::new(actor, 0).quad(),
        time: 0,
        actor,
    };
    let canonical = sample.to_canonical().context("encode sample event")?;
    ensure!(
        canonical.len() == EVENT_BYTES,
        "events are {} bytes, expected {EVENT_BYTES}",
        canonical.len()
    );

    let build_ns = vec![
        (1, build_cost(&s, actor, 1)?),
        (100, build_cost(&s, actor, 100)?),
    ];
    let baseline = fsync_baseline(&s, &canonical)?;
    group_commit(&s, actor, baseline, &build_ns)?;
    let mut failed = Vec::new();
    for size in [s.medium, s.large] {
        if let Err(e) = log_at_size(&s, size) {
            eprintln!("log of {size} events: {e:#}");
            failed.push(size);
        }
    }
    ensure!(
        failed.is_empty(),
        "measurements at sizes {failed:?} failed (see stderr)"
    );
    Ok(())
}
