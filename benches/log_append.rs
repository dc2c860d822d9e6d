//! Append throughput, proof latency, verification speed and memory of the signed log.
//!
//! # What is measured, against what
//!
//! All events are 200-byte canonical events (checked at start-up).
//!
//! 1. `fsync_per_event_baseline` — the peer, in the same run: a naive appender doing
//!    `write_all` + `File::sync_data()` per event on a plain file, one thread.
//! 2. `group_commit_throughput` — ledgraph with 1, 8 and 64 appender threads appending
//!    single-event and 100-event batches for a fixed time, on a fresh log per run; `ratio` is
//!    events/s ÷ naive events/s, per run against a *paired* naive run of ⅓ the duration just
//!    before it (the shared disk's fsync latency drifts by 10× within minutes), median over
//!    runs; `ratio_vs_baseline_line` divides by the line-1 median instead. 1 thread × 1 event is
//!    ledgraph's own fsync-per-event case.
//!    Events are generated in the appender threads (seconds of pre-built batches would need
//!    GBs); `event_build_cost` times that generation alone (ns/event, one thread).
//!    `events_per_fsync` (events ÷ distinct acknowledged checkpoints) and `cpu_cores_busy`
//!    (process CPU ÷ wall time) show where the time goes.
//! 3. Per log size (`MEDIUM`, `LARGE`), in a child process (the bench re-executes itself) so
//!    memory figures are not the parent's: `log_build_throughput` (64 threads × 1,000-event
//!    batches generated on the fly, one run); `inclusion_proof_us_*` / `consistency_proof_us_*`
//!    (per-run median and p99 over random leaves / sizes from a seeded xorshift, page cache warm
//!    from the build); `verify_throughput` (`verify_log` in-process on the closed log);
//!    `peak_rss_after_build` (the child's `VmHWM`: the log's threads and buffers *plus* 64
//!    appenders with in-flight 1,000-event batches, ≈ 30 MB, and allocator arenas — like a
//!    server with 64 concurrent writers); `peak_rss_during_verify` (`VmHWM` reset through
//!    `/proc/self/clear_refs` before verifying).
//!
//! Targets ride along as `target` / `target_met`: 64 appenders × single events ≥ 100,000
//! events/s and ≥ 40× baseline; 64 × 100-event batches ≥ 1,000,000 events/s; inclusion proof
//! ≤ 20 µs; verify ≥ 1,000,000 events/s; peak RSS after building the large log ≤ 200 MB.
//!
//! # How to run
//!
//! `cargo bench --bench log_append`. Environment: `LEDGRAPH_BENCH_RUNS` (3) repetitions of each
//! timed measurement; `LEDGRAPH_BENCH_SECONDS` (3) per group-commit run, ⅔ of it for the
//! baseline; `LEDGRAPH_BENCH_MEDIUM` (1,000,000) and `LEDGRAPH_BENCH_LARGE` (10,000,000) log
//! sizes; `LEDGRAPH_BENCH_PROOFS` (10,000) proofs per run; `LEDGRAPH_BENCH_SEED` (decimal);
//! `LEDGRAPH_BENCH_DIR` (system temp dir) for data — ≈ 330 bytes per event must be free.
//! Quick run: `LEDGRAPH_BENCH_LARGE=200000 LEDGRAPH_BENCH_MEDIUM=100000 LEDGRAPH_BENCH_RUNS=1`.
//!
//! # Reading the output
//!
//! One JSON object per line on stdout: `bench`, `metric`, `value` (= `median`), `unit`, the
//! parameters and comparisons (`ratio`, `target`, …), then `runs`, `median`, `samples` (one
//! per run) and `load1`, the 1-minute load average at that moment (the machine is shared; high
//! load means noisy numbers). Progress goes to stderr. MB = 10⁶ bytes.

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
        let positive = s.runs > 0 && s.seconds > 0.0 && s.proofs > 0 && s.seed != 0;
        ensure!(
            positive && s.medium > 1 && s.large > 1,
            "bench settings must be positive"
        );
        Ok(s)
    }
}

fn node_key() -> Result<NodeKey> {
    NodeKey::from_seed("bench.local/log", [7u8; 32]).context("bench key")
}

fn open_log(data_dir: &Path) -> Result<Log> {
    let (key, clock) = (node_key()?, Arc::new(SystemClock));
    let opened = Log::open(data_dir, key, LogConfig::default(), clock);
    Ok(opened
        .with_context(|| format!("open log in {}", data_dir.display()))?
        .0)
}

fn temp_dir(s: &Settings) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("ledgraph-bench-")
        .tempdir_in(&s.dir)
        .with_context(|| format!("create a temp dir in {}", s.dir.display()))
}

/// Generates distinct 200-byte events; `stream` keeps the subjects of each thread apart.
/// Terms are templates ending in 12 counter digits, filled without `format!` (this is the
/// appender's own work, which competes with the log for the 2 cores).
struct EventGen {
    actor: ActorKey,
    predicate: NamedNode,
    subject: String,
    object: String,
    next: u64,
}

impl EventGen {
    fn new(actor: ActorKey, stream: u64) -> Self {
        let subject = format!("{SUBJECT_PREFIX}{:04}/000000000000", stream % 10_000);
        // 58 bytes of framing: 42 header + 3 × 5 term headers + 1 graph tag.
        let pad = EVENT_BYTES.saturating_sub(58 + subject.len() + PREDICATE.len() + 17);
        let object = format!("{}{:04}-000000000000", "v".repeat(pad), stream % 10_000);
        let predicate = NamedNode::new_unchecked(PREDICATE);
        EventGen {
            actor,
            predicate,
            subject,
            object,
            next: 0,
        }
    }

    /// `template` with its last 12 digits replaced by `n`.
    fn fill(template: &str, n: u64) -> String {
        let mut s = String::with_capacity(template.len());
        s.push_str(&template[..template.len() - 12]);
        let mut digits = [b'0'; 12];
        let mut rest = n;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        s.extend(digits.iter().map(|&d| char::from(d)));
        s
    }

    fn quad(&mut self) -> Quad {
        let n = self.next % 1_000_000_000_000;
        self.next += 1;
        Quad::new(
            NamedNode::new_unchecked(Self::fill(&self.subject, n)),
            self.predicate.clone(),
            Literal::new_simple_literal(Self::fill(&self.object, n)),
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

/// Nearest-rank percentile (`q` in 0..=1); the median of 3 runs is the middle one.
fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 * q).ceil() as usize).max(1) - 1)
        .copied()
        .unwrap_or(f64::NAN)
}

fn median(samples: &[f64]) -> f64 {
    percentile(samples, 0.5)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

type Fields = Vec<(&'static str, Value)>;

/// Writes one measurement as a JSON line (fields in this order) and returns its median.
fn emit(metric: &str, unit: &str, samples: &[f64], fields: Fields) -> Result<f64> {
    let m = median(samples);
    let rounded: Vec<f64> = samples.iter().copied().map(round).collect();
    let head = [("bench", json!("log_append")), ("metric", json!(metric))];
    let value = [("value", json!(round(m))), ("unit", json!(unit))];
    let tail = [
        ("runs", json!(samples.len())),
        ("median", json!(round(m))),
        ("samples", json!(rounded)),
        ("load1", json!(load1())),
    ];
    let all = head.into_iter().chain(value).chain(fields).chain(tail);
    let body: Vec<String> = all.map(|(k, v)| format!("{}:{v}", json!(k))).collect();
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
    let line = status.lines().find(|l| l.starts_with(field));
    let value = line.and_then(|l| l.split_whitespace().nth(1));
    let kb: f64 = value.with_context(|| format!("{field} missing"))?.parse()?;
    Ok(kb * 1024.0 / 1e6)
}

fn free_bytes(dir: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).context("NUL in dir path")?;
    // SAFETY: statvfs writes only into the zero-initialised struct; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(e).with_context(|| format!("statvfs {}", dir.display()));
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
    let fields = vec![("batch_events", json!(batch))];
    emit("event_build_cost", "ns/event", &samples, fields)
}

/// Naive peer: `write_all` + `sync_data` per 200-byte event, one thread, for `seconds`.
fn naive_rate(s: &Settings, event: &[u8], seconds: f64) -> Result<f64> {
    let tmp = temp_dir(s)?;
    let path = tmp.path().join("naive.log");
    let mut file = std::fs::File::create(&path).context("create naive log file")?;
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        file.write_all(event).context("naive write")?;
        file.sync_data().context("naive fsync")?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn fsync_baseline(s: &Settings, event: &[u8]) -> Result<f64> {
    let seconds = s.seconds * 2.0 / 3.0;
    let mut samples = Vec::new();
    for run in 0..s.runs {
        samples.push(naive_rate(s, event, seconds)?);
        eprintln!("baseline run {}: {:.0} events/s", run + 1, samples[run]);
    }
    let fields = vec![
        ("threads", json!(1)),
        ("event_bytes", json!(event.len())),
        ("seconds", json!(seconds)),
    ];
    emit("fsync_per_event_baseline", "events/s", &samples, fields)
}

/// What a set of appender threads achieved.
struct Appended {
    events: u64,
    /// Distinct checkpoints acknowledged: the number of group commits (fsyncs) that served them.
    groups: usize,
    seconds: f64,
    cpu_seconds: f64,
}

/// Runs `threads` appenders, each appending batches of `next()` fresh events until it returns
/// `None`. Meanwhile the calling thread calls `tick(events acked, seconds)` every 10 ms.
fn run_appenders(
    log: &Log,
    actor: ActorKey,
    threads: usize,
    stream: usize,
    next: &(dyn Fn() -> Option<u64> + Sync),
    mut tick: impl FnMut(u64, f64),
) -> Result<Appended> {
    let (barrier, done) = (Barrier::new(threads + 1), AtomicU64::new(0));
    let (results, seconds, cpu_seconds) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, done) = (&barrier, &done);
                scope.spawn(move || -> Result<Vec<u64>> {
                    let mut generator = EventGen::new(actor, (stream + t) as u64);
                    let mut sizes = Vec::new();
                    barrier.wait();
                    while let Some(n) = next() {
                        let ack = log.append(generator.batch(n as usize)).context("append")?;
                        done.fetch_add(ack.count, Ordering::Relaxed);
                        sizes.push(ack.checkpoint.checkpoint.size);
                    }
                    Ok(sizes)
                })
            })
            .collect();
        barrier.wait();
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(10));
            tick(done.load(Ordering::Relaxed), start.elapsed().as_secs_f64());
        }
        let joined = handles
            .into_iter()
            .map(|h| h.join().expect("appender panicked"));
        let results: Vec<_> = joined.collect();
        let elapsed = start.elapsed().as_secs_f64();
        (results, elapsed, cpu_seconds() - cpu_start)
    });
    let mut sizes = Vec::new();
    for r in results {
        sizes.extend(r?);
    }
    sizes.sort_unstable();
    sizes.dedup();
    Ok(Appended {
        events: done.into_inner(),
        groups: sizes.len(),
        seconds,
        cpu_seconds,
    })
}

/// One run: a paired naive baseline (⅓ of the duration) right before a fixed-duration run on a
/// fresh log, so slow drifts of the shared disk hit both. Returns
/// (events/s, paired baseline events/s, events per fsync, cores busy).
fn group_commit_run(
    s: &Settings,
    event: &[u8],
    threads: usize,
    batch: usize,
    run: usize,
) -> Result<[f64; 4]> {
    let paired = naive_rate(s, event, s.seconds / 3.0)?;
    let tmp = temp_dir(s)?;
    let log = open_log(tmp.path())?;
    let stop = AtomicBool::new(false);
    let next = || (!stop.load(Ordering::Relaxed)).then_some(batch as u64);
    let tick = |_, elapsed| stop.store(elapsed >= s.seconds, Ordering::Relaxed);
    let r = run_appenders(&log, actor()?, threads, run * threads, &next, tick)?;
    log.close().context("close log")?;
    let (events, secs) = (r.events as f64, r.seconds);
    Ok([
        events / secs,
        paired,
        events / r.groups.max(1) as f64,
        r.cpu_seconds / secs,
    ])
}

fn group_commit(s: &Settings, event: &[u8], baseline: f64, build_ns: [f64; 2]) -> Result<()> {
    for batch in [1usize, 100] {
        for threads in [1usize, 8, 64] {
            let mut runs = Vec::new();
            for run in 0..s.runs {
                let r = group_commit_run(s, event, threads, batch, run)?;
                let (rate, paired) = (r[0], r[1]);
                eprintln!(
                    "{threads} threads × {batch}-event batches: {rate:.0} events/s (naive {paired:.0})"
                );
                runs.push(r);
            }
            let col = |i: usize| runs.iter().map(|r| r[i]).collect::<Vec<f64>>();
            let rates = col(0);
            let ratios: Vec<f64> = runs.iter().map(|r| r[0] / r[1]).collect();
            let (m, ratio) = (median(&rates), median(&ratios));
            let mut fields = vec![
                ("threads", json!(threads)),
                ("batch_events", json!(batch)),
                ("seconds", json!(s.seconds)),
                ("ratio", json!(round(ratio))),
                (
                    "ratio_samples",
                    json!(ratios.into_iter().map(round).collect::<Vec<_>>()),
                ),
                ("paired_baseline", json!(round(median(&col(1))))),
                ("ratio_vs_baseline_line", json!(round(m / baseline))),
                ("events_per_fsync", json!(round(median(&col(2))))),
                ("cpu_cores_busy", json!(round(median(&col(3))))),
                (
                    "build_ns_per_event",
                    json!(round(build_ns[usize::from(batch > 1)])),
                ),
            ];
            match (threads, batch) {
                (64, 1) => fields.extend(target(
                    ">= 100000 events/s and ratio >= 40",
                    m >= 100_000.0 && ratio >= 40.0,
                )),
                (64, 100) => fields.extend(target(">= 1000000 events/s", m >= 1_000_000.0)),
                _ => {}
            }
            emit("group_commit_throughput", "events/s", &rates, fields)?;
        }
    }
    Ok(())
}

/// Builds a log of `total` events with 64 threads × 1,000-event batches generated on the fly.
fn build_log(log: &Log, actor: ActorKey, total: u64) -> Result<f64> {
    let (batches, claimed) = (total.div_ceil(BUILD_BATCH), AtomicU64::new(0));
    let next = || {
        let i = claimed.fetch_add(1, Ordering::Relaxed);
        (i < batches).then(|| BUILD_BATCH.min(total - i * BUILD_BATCH))
    };
    let mut reported = 0.0;
    let tick = |done, elapsed: f64| {
        if elapsed - reported >= 5.0 {
            reported = elapsed;
            eprintln!(
                "  built {done}/{total} events ({:.0} events/s)",
                done as f64 / elapsed
            );
        }
    };
    let r = run_appenders(log, actor, BUILD_THREADS, 0, &next, tick)?;
    ensure!(
        log.size() == total,
        "log holds {} events, not {total}",
        log.size()
    );
    Ok(r.events as f64 / r.seconds)
}

/// One proof call of a kind, on a random leaf or size below `size`.
type ProofFn = fn(&Log, &mut XorShift, u64) -> Result<()>;

fn inclusion(log: &Log, rng: &mut XorShift, size: u64) -> Result<()> {
    let proof = log.inclusion_proof(rng.below(size), Some(size));
    std::hint::black_box(proof.context("inclusion proof")).map(drop)
}

fn consistency(log: &Log, rng: &mut XorShift, size: u64) -> Result<()> {
    let proof = log.consistency_proof(1 + rng.below(size), size);
    std::hint::black_box(proof.context("consistency proof")).map(drop)
}

/// Child process: build, prove, verify and measure memory for one log size.
fn child(s: &Settings, size: u64, data_dir: &Path) -> Result<()> {
    let events = || ("events", json!(size));
    let log = open_log(data_dir)?;
    let hwm_before = status_mb("VmHWM:")?;
    eprintln!("building a log of {size} events in {}", data_dir.display());
    let rate = build_log(&log, actor()?, size)?;
    let hwm = status_mb("VmHWM:")?;
    let fields = vec![
        events(),
        ("threads", json!(BUILD_THREADS)),
        ("batch_events", json!(BUILD_BATCH)),
    ];
    emit("log_build_throughput", "events/s", &[rate], fields)?;
    let mut fields = vec![
        events(),
        ("vm_rss_mb", json!(round(status_mb("VmRSS:")?))),
        ("hwm_before_build_mb", json!(round(hwm_before))),
        (
            "includes",
            json!("child process: log + 64 appenders with in-flight batches"),
        ),
    ];
    fields.extend(target("<= 200 MB", hwm <= 200.0));
    emit("peak_rss_after_build", "MB", &[hwm], fields)?;

    let mut rng = XorShift(s.seed);
    let kinds: [(&str, ProofFn); 2] = [
        ("inclusion_proof", inclusion),
        ("consistency_proof", consistency),
    ];
    for (name, proof) in kinds {
        let (mut medians, mut p99s) = (Vec::new(), Vec::new());
        for _ in 0..s.runs {
            let mut us = Vec::with_capacity(s.proofs);
            for _ in 0..s.proofs {
                let start = Instant::now();
                proof(&log, &mut rng, size)?;
                us.push(start.elapsed().as_nanos() as f64 / 1e3);
            }
            medians.push(median(&us));
            p99s.push(percentile(&us, 0.99));
        }
        for (stat, samples) in [("median", &medians), ("p99", &p99s)] {
            let seed = ("seed", json!(s.seed.to_string()));
            let mut fields = vec![events(), ("proofs_per_run", json!(s.proofs)), seed];
            if name == "inclusion_proof" {
                fields.extend(target("<= 20 us", median(samples) <= 20.0));
            }
            emit(&format!("{name}_us_{stat}"), "us", samples, fields)?;
        }
    }
    log.close().context("close log")?;

    let clear = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let verifier = node_key()?.verifier();
    let mut rates = Vec::new();
    for run in 0..s.runs {
        let start = Instant::now();
        let report =
            verify_log(data_dir, &verifier, &VerifyOptions::default()).context("verify")?;
        rates.push(report.events as f64 / start.elapsed().as_secs_f64());
        ensure!(report.events == size, "verify saw {} events", report.events);
        eprintln!("verify run {}: {:.0} events/s", run + 1, rates[run]);
    }
    let met = median(&rates) >= 1e6;
    let fields = [vec![events()], target(">= 1000000 events/s", met)].concat();
    emit("verify_throughput", "events/s", &rates, fields)?;
    let note = [
        "clear_refs failed: includes the build",
        "VmHWM reset before verify",
    ][clear as usize];
    let fields = vec![events(), ("includes", json!(note))];
    emit(
        "peak_rss_during_verify",
        "MB",
        &[status_mb("VmHWM:")?],
        fields,
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
    ensure!(status.success(), "child for {size} events: {status}");
    Ok(())
}

fn main() -> Result<()> {
    let s = Settings::from_env()?;
    if let Ok(events) = std::env::var(CHILD_EVENTS_ENV) {
        let dir = std::env::var_os(CHILD_DIR_ENV).context("child needs its data dir")?;
        let events = events.parse().context("child event count")?;
        return child(&s, events, Path::new(&dir));
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (runs, secs, dir) = (s.runs, s.seconds, s.dir.display());
    eprintln!("log_append: {runs} runs × {secs} s, data in {dir}, {cores} cores");
    let actor = actor()?;
    let quad = EventGen::new(actor, 0).quad();
    let canonical = Event {
        op: Op::Add,
        quad,
        time: 0,
        actor,
    }
    .to_canonical()
    .context("encode")?;
    ensure!(
        canonical.len() == EVENT_BYTES,
        "events are {} bytes",
        canonical.len()
    );

    let build_ns = [build_cost(&s, actor, 1)?, build_cost(&s, actor, 100)?];
    let baseline = fsync_baseline(&s, &canonical)?;
    group_commit(&s, &canonical, baseline, build_ns)?;
    let mut failed = Vec::new();
    for size in [s.medium, s.large] {
        if let Err(e) = log_at_size(&s, size) {
            eprintln!("log of {size} events: {e:#}");
            failed.push(size);
        }
    }
    ensure!(failed.is_empty(), "sizes {failed:?} failed (see stderr)");
    Ok(())
}
