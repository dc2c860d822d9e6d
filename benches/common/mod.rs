//! Shared by the server benchmarks (`http_ingest`, `sparql_query`, `replay`): settings from
//! the environment, ledgraph and the Oxigraph server as child processes, a small blocking HTTP
//! client, the BSBM-like data set ([`bsbm`]) and the JSON-lines output.
//!
//! It measures nothing by itself and knows no targets; each bench decides what it times.
//! Every server runs on a loopback port and in a fresh directory under [`bench_dir`], and is
//! stopped with SIGTERM (ledgraph closes its log and projections cleanly on it).

#![allow(dead_code)] // each bench uses its own part of this module

pub mod bsbm;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

/// How long a server may take to answer its first query after start.
pub const SERVER_START_TIMEOUT_MS: u64 = 120_000;
/// How long a stopped server may take to exit before it is killed.
pub const SERVER_STOP_TIMEOUT_MS: u64 = 120_000;
/// One HTTP request's time limit (a 1,000-triple POST under load, a slow query).
pub const REQUEST_TIMEOUT_MS: u64 = 300_000;
/// Largest response body the client reads.
pub const RESPONSE_BODY_BYTES_MAX: u64 = 1 << 30;

/// `NAME` from the environment (underscores allowed in numbers), or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
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

/// Repetitions of every case (`LEDGRAPH_BENCH_RUNS`, default 3).
pub fn runs() -> Result<usize> {
    let runs = env_or("LEDGRAPH_BENCH_RUNS", 3usize)?;
    ensure!(runs > 0, "LEDGRAPH_BENCH_RUNS must be positive");
    Ok(runs)
}

/// Triples in the generated data set (`LEDGRAPH_BENCH_TRIPLES`, default 1,000,000).
pub fn dataset_triples() -> Result<u64> {
    let n = env_or("LEDGRAPH_BENCH_TRIPLES", 1_000_000u64)?;
    ensure!(n >= 1_000, "LEDGRAPH_BENCH_TRIPLES must be at least 1000");
    Ok(n)
}

/// Where data sets are cached (`LEDGRAPH_BENCH_CACHE`, default ~/.cache/ledgraph/bench-data).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("LEDGRAPH_BENCH_CACHE")
        .map_or_else(|| home().join(".cache/ledgraph/bench-data"), PathBuf::from)
}

/// Where servers' directories are made (`LEDGRAPH_BENCH_DIR`, default the system temp dir).
pub fn bench_dir() -> PathBuf {
    std::env::var_os("LEDGRAPH_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from)
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let dir = bench_dir();
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&dir)
        .with_context(|| format!("create a temp dir in {}", dir.display()))
}

/// The ledgraph binary cargo built with this bench (bench profile = release + debug info).
pub fn ledgraph_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ledgraph"))
}

/// The peer: `LEDGRAPH_BENCH_OXIGRAPH`, default the venv `benches/setup.sh` installs.
pub fn oxigraph_bin() -> Result<PathBuf> {
    let path = std::env::var_os("LEDGRAPH_BENCH_OXIGRAPH").map_or_else(
        || home().join(".cache/ledgraph/bench-venv/bin/oxigraph"),
        PathBuf::from,
    );
    ensure!(
        path.exists(),
        "{} not found: run benches/setup.sh (or set LEDGRAPH_BENCH_OXIGRAPH)",
        path.display()
    );
    Ok(path)
}

pub fn median(samples: &[f64]) -> f64 {
    percentile(samples, 0.5)
}

pub fn percentile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Rounds to 3 significant decimals for output.
pub fn round(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let digits = 3 - x.abs().log10().floor() as i32 - 1;
    let scale = 10f64.powi(digits.max(0));
    (x * scale).round() / scale
}

pub fn rounded(samples: &[f64]) -> Value {
    json!(samples.iter().map(|&x| round(x)).collect::<Vec<_>>())
}

/// The 1-minute load average (the machine is shared; high load means noisy numbers).
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Prints one JSON line: `bench`, `case`, then `fields` in order, then `load1`.
pub fn emit(bench: &str, case: &str, fields: Vec<(&str, Value)>) {
    let mut line = format!("{{\"bench\":{},\"case\":{}", json!(bench), json!(case));
    for (k, v) in fields {
        line.push_str(&format!(",{}:{v}", json!(k)));
    }
    line.push_str(&format!(",\"load1\":{}}}", json!(round(load1()))));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The two systems compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Ledgraph,
    Oxigraph,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Ledgraph => "ledgraph",
            System::Oxigraph => "oxigraph",
        }
    }

    /// Run `run` measures both systems in this order: who goes first alternates, so a drift
    /// in the machine's load does not always favour the same one.
    pub fn order(run: usize) -> [System; 2] {
        if run % 2 == 0 {
            [System::Ledgraph, System::Oxigraph]
        } else {
            [System::Oxigraph, System::Ledgraph]
        }
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A server child process on a loopback port.
pub struct Server {
    child: Option<Child>,
    pub system: System,
    pub base: String,
    pub pid: u32,
    output: PathBuf,
}

impl Server {
    /// Starts `system` on `data` and waits until it answers a query. Its output goes to
    /// `data`'s sibling file `<data>.out`.
    pub fn start(system: System, data: &Path) -> Result<Server> {
        let port = free_port()?;
        let bind = format!("127.0.0.1:{port}");
        let mut command = match system {
            System::Ledgraph => {
                let mut c = Command::new(ledgraph_bin());
                // No SHACL admission: the Oxigraph server validates nothing, and admission
                // (which serializes writes) has its own bench, benches/admission.rs.
                c.arg("--data").arg(data).args([
                    "serve",
                    "--no-demo",
                    "--no-shapes",
                    "--bind",
                    &bind,
                ]);
                // The server's default log level, whatever the caller's environment says.
                c.env_remove("LEDGRAPH_LOG");
                c
            }
            System::Oxigraph => {
                let mut c = Command::new(oxigraph_bin()?);
                c.arg("serve")
                    .arg("--location")
                    .arg(data)
                    .args(["--bind", &bind]);
                c
            }
        };
        let output = data.with_extension("out");
        let out = std::fs::File::create(&output)
            .with_context(|| format!("create {}", output.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = command
            .spawn()
            .with_context(|| format!("start {}", system.name()))?;
        let mut server = Server {
            pid: child.id(),
            child: Some(child),
            system,
            base: format!("http://{bind}"),
            output,
        };
        server.wait_until_answering()?;
        Ok(server)
    }

    fn wait_until_answering(&mut self) -> Result<()> {
        let client = Client::new();
        let deadline = Instant::now() + Duration::from_millis(SERVER_START_TIMEOUT_MS);
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                bail!(
                    "{} exited with {status} at start; its output:\n{}",
                    self.system.name(),
                    std::fs::read_to_string(&self.output).unwrap_or_default()
                );
            }
            if client.ask(&self.base, "ASK {}").is_ok() {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{} did not answer within {SERVER_START_TIMEOUT_MS} ms",
                self.system.name()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits for the exit (ledgraph syncs its log and stops its projections).
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_millis(SERVER_STOP_TIMEOUT_MS);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                child.kill()?;
                child.wait()?;
                bail!("{} did not stop on SIGTERM", self.system.name());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The process's CPU time so far (user + system, seconds), from /proc.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.pid)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner() {
            eprintln!("stopping {}: {e:#}", self.system.name());
        }
    }
}

/// User + system CPU seconds of process `pid` (NaN if unreadable).
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) if hz > 0.0 => (u + s) / hz,
        _ => f64::NAN,
    }
}

/// A blocking HTTP/1.1 client with keep-alive (one per thread).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(REQUEST_TIMEOUT_MS)))
            .build();
        Client {
            agent: config.new_agent(),
        }
    }

    /// POSTs `body` and returns the status and the response body.
    pub fn post(
        &self,
        url: &str,
        content_type: &str,
        accept: &str,
        body: &[u8],
    ) -> Result<(u16, String)> {
        let mut response = self
            .agent
            .post(url)
            .header("Content-Type", content_type)
            .header("Accept", accept)
            .send(body)
            .with_context(|| format!("POST {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BODY_BYTES_MAX)
            .read_to_string()
            .with_context(|| format!("reading the answer of POST {url}"))?;
        Ok((status, text))
    }

    /// POSTs and fails unless the status is 2xx.
    pub fn post_ok(
        &self,
        url: &str,
        content_type: &str,
        accept: &str,
        body: &[u8],
    ) -> Result<String> {
        let (status, text) = self.post(url, content_type, accept, body)?;
        ensure!(
            (200..300).contains(&status),
            "POST {url}: {status}: {}",
            text.chars().take(500).collect::<String>()
        );
        Ok(text)
    }

    pub fn get_json(&self, url: &str) -> Result<Value> {
        let mut response = self
            .agent
            .get(url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        ensure!((200..300).contains(&status), "GET {url}: {status}: {text}");
        serde_json::from_str(&text).with_context(|| format!("GET {url}: not JSON: {text}"))
    }

    /// A query by direct POST at `/query` (both servers serve it there).
    pub fn query(&self, base: &str, query: &str, accept: &str) -> Result<String> {
        let url = format!("{base}/query");
        self.post_ok(&url, "application/sparql-query", accept, query.as_bytes())
    }

    pub fn ask(&self, base: &str, query: &str) -> Result<bool> {
        let text = self.query(base, query, "application/sparql-results+json")?;
        let value: Value = serde_json::from_str(&text).context("ASK result")?;
        value["boolean"]
            .as_bool()
            .with_context(|| format!("ASK result without a boolean: {text}"))
    }

    /// The integer `?n` of a one-row SELECT (a COUNT).
    pub fn count(&self, base: &str, query: &str) -> Result<u64> {
        let text = self.query(base, query, "application/sparql-results+json")?;
        let value: Value = serde_json::from_str(&text).context("SELECT result")?;
        value["results"]["bindings"][0]["n"]["value"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("no integer ?n in {text}"))
    }

    /// ledgraph's `/readyz`: (log size, state applied, events applied).
    pub fn readyz(&self, base: &str) -> Result<Readyz> {
        let v = self.get_json(&format!("{base}/readyz"))?;
        let field = |name: &str| {
            v[name]
                .as_u64()
                .with_context(|| format!("/readyz without {name}: {v}"))
        };
        Ok(Readyz {
            log_size: field("log_size")?,
            state_applied: field("state_applied")?,
            events_applied: field("events_applied")?,
        })
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Readyz {
    pub log_size: u64,
    pub state_applied: u64,
    pub events_applied: u64,
}

/// Runs a command to completion; fails with its output when it fails.
pub fn run_command(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("run {command:?}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

/// Bytes on disk under `path` (files only, not following links).
pub fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        // Allocated blocks, not the apparent length: the log's index files are sparse.
        use std::os::unix::fs::MetadataExt;
        return meta.blocks() * 512;
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| disk_bytes(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Builds a ledgraph data directory (node key + log, no store) holding `chunks` as one log
/// transaction each, appended by `threads` threads through the library — the same log the
/// server would write for one request per chunk, without HTTP. Returns the seconds it took.
pub fn build_ledgraph_log(data: &Path, chunks: &[String], threads: usize) -> Result<f64> {
    use ledgraph::event::hlc::SystemClock;
    use ledgraph::event::{ActorKey, Batch};
    use ledgraph::keys::{self, OsRandom};
    use ledgraph::log::{Log, LogConfig};
    use std::sync::atomic::{AtomicUsize, Ordering};

    std::fs::create_dir_all(data).with_context(|| format!("create {}", data.display()))?;
    let (key, _) = keys::load_or_create_key(data, &mut OsRandom)?;
    let actor = ActorKey(key.public_key());
    let started = Instant::now();
    let (log, _) = Log::open(
        data,
        key,
        LogConfig::default(),
        std::sync::Arc::new(SystemClock),
    )?;
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(i) else {
                            return Ok(());
                        };
                        let changes = ledgraph::event::input::parse_ntriples(chunk.as_bytes())?;
                        log.append(Batch::unsigned(actor, changes))?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("an appender panicked"))??;
        }
        Ok(())
    })?;
    log.close()?;
    Ok(started.elapsed().as_secs_f64())
}
