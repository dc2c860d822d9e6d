//! The kernel: TSC cycles per observation of `kernel::step` (median of ≥ 10 batches of 1M
//! observations) against the hash-map interpreter of the same rules on the same batches, in
//! one run, on the compiled demo descriptor.
//!
//! Program: `LEDGRAPH_BENCH_DESCRIPTOR` (default `descriptors/demo.lgd`; the hand-built
//! `kernel::sample` program when that file is missing). Two streams:
//! - telemetry: numeric readings on every predicate whose quiet summary is an interval, 99%
//!   inside it (nothing happens) and 1% outside (a violation or a firing rule), 0.5% types;
//! - mixed: the events `kernel::events` generates for differential tests — every guarded and
//!   every rule-triggering predicate, objects on and around every bound, half of them refused:
//!   most observations take the exact path.
//!
//! The bench needs no server part: `cargo bench --bench kernel --no-default-features` builds
//! it without RocksDB. The SPARQL and rudof baselines need the store and are measured by
//! `cargo test --test kernel_baselines -- --ignored --nocapture` (Oxigraph and rudof are built
//! with `opt-level = 2` in the test profile too). `-- --callgrind step|interp
//! telemetry|mixed` runs one engine once on `LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS` observations
//! for `benches/kernel_callgrind.sh` (instructions per observation).
//!
//! JSON lines on stdout. Environment: `LEDGRAPH_BENCH_KERNEL_BATCHES` (11),
//! `LEDGRAPH_BENCH_KERNEL_BATCH_OBS` (1,000,000), `LEDGRAPH_BENCH_SEED` (1).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ledgraph::descriptor::{AlignedBytes, Descriptor};
use ledgraph::event::Op;
use ledgraph::kernel::events::EventGen;
use ledgraph::kernel::intern::Interner;
use ledgraph::kernel::interp::Interpreter;
use ledgraph::kernel::program::Program;
use ledgraph::kernel::{Actions, Observation, State, sample, step};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const BENCH: &str = "kernel";
const NODES: u32 = 100_000;
/// Nodes of the telemetry stream under callgrind (their setup is counted with the stream).
const CALLGRIND_NODES: u32 = 1_000;
const TARGET_CYCLES_MAX: f64 = 8.0;
const TARGET_VS_INTERP_MIN: f64 = 5.0;

#[cfg(target_arch = "x86_64")]
fn tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc() -> u64 {
    0
}

/// TSC ticks per second, measured against the monotonic clock over 200 ms.
fn tsc_hz() -> f64 {
    let (t0, c0) = (Instant::now(), tsc());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, c1) = (Instant::now(), tsc());
    (c1 - c0) as f64 / (t1 - t0).as_secs_f64()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

fn round(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let scale = 10f64.powi((2 - x.abs().log10().floor() as i32).max(0));
    (x * scale).round() / scale
}

fn emit(case: &str, fields: serde_json::Value) {
    let mut line = json!({"bench": BENCH, "case": case});
    if let (Some(l), Some(f)) = (line.as_object_mut(), fields.as_object()) {
        l.extend(f.clone());
    }
    println!("{line}");
}

/// The program and where it came from.
fn program() -> Result<(Program, String)> {
    let path = std::env::var_os("LEDGRAPH_BENCH_DESCRIPTOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("descriptors/demo.lgd"));
    match std::fs::read(&path) {
        Ok(bytes) => {
            let aligned = AlignedBytes::copy_from(&bytes);
            let d = Descriptor::load(aligned.as_bytes(), None)?;
            Ok((Program::from_view(&d.program()), path.display().to_string()))
        }
        Err(_) => Ok((sample::program(), "kernel::sample".to_owned())),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    Telemetry,
    Mixed,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Telemetry => "telemetry",
            Mix::Mixed => "mixed",
        }
    }
}

/// Batches of one mix: telemetry is generated per batch; the mixed stream is interned once
/// into a pool (interning is the caller's warm work, not the kernel's) and batches are windows
/// of it.
enum Source {
    Telemetry(sample::Telemetry),
    Mixed { pool: Vec<Observation>, next: usize },
}

impl Source {
    fn new(
        program: &Program,
        mix: Mix,
        seed: u64,
        n: usize,
        nodes: u32,
    ) -> Result<(Source, usize)> {
        let view = program.view()?;
        match mix {
            Mix::Telemetry => {
                let state = State::new(&view);
                let t = sample::Telemetry::new(&view, &state, seed, nodes)
                    .ok_or("no numeric predicate for a telemetry stream")?;
                let bound = t.id_bound();
                Ok((Source::Telemetry(t), bound))
            }
            Mix::Mixed => {
                let mut interner = Interner::new(&view)?;
                let mut guards = EventGen::new(view, seed, |_| true);
                let mut rules = EventGen::for_rules(view, seed ^ 0x5eed);
                let mut pool = Vec::with_capacity(2 * n);
                while pool.len() < 2 * n {
                    let Some(case) = (if pool.len() % 2 == 0 {
                        guards.case()
                    } else {
                        rules.case()
                    }) else {
                        break;
                    };
                    for q in case.quads {
                        let s = q.subject.as_ref().into();
                        pool.push(interner.observe(
                            Op::Add,
                            s,
                            q.predicate.as_ref().into(),
                            q.object.as_ref(),
                        )?);
                    }
                }
                if pool.len() < n {
                    return Err("the program has no guard or rule to aim a mixed stream at".into());
                }
                Ok((Source::Mixed { pool, next: 0 }, interner.len()))
            }
        }
    }

    /// Observations to step once before measuring (the typing a plant states up front).
    fn setup(&self) -> Vec<Observation> {
        match self {
            Source::Telemetry(t) => t.setup(),
            Source::Mixed { .. } => Vec::new(),
        }
    }

    fn fill(&mut self, batch: &mut Vec<Observation>, n: usize) {
        match self {
            Source::Telemetry(t) => t.fill(batch, n),
            Source::Mixed { pool, next } => {
                let start = *next % (pool.len() - n + 1);
                batch.clear();
                batch.extend_from_slice(&pool[start..start + n]);
                *next = start + n / 3 + 1;
            }
        }
    }
}

#[derive(Default)]
struct Samples {
    cycles: Vec<f64>,
    ns: Vec<f64>,
    violations: u64,
    emitted: u64,
}

fn measure(
    program: &Program,
    mix: Mix,
    seed: u64,
    batches: usize,
    n: usize,
    kernel: bool,
) -> Result<Samples> {
    let view = program.view()?;
    let (mut source, bound) = Source::new(program, mix, seed, n, NODES)?;
    let mut state = State::new(&view);
    state.ensure_nodes(bound);
    let mut out = Actions::for_batch(&view, n);
    let mut interp = Interpreter::new(&view);
    let setup = source.setup();
    let mut once = Actions::for_batch(&view, setup.len());
    step(&view, &mut state, &setup, &mut once);
    interp.run(&setup, &mut once);
    let mut batch = Vec::with_capacity(n);
    let mut s = Samples::default();
    // One warm-up batch (page faults in the buffers, caches), not counted.
    for round in 0..=batches {
        source.fill(&mut batch, n);
        let (t0, c0) = (Instant::now(), tsc());
        if kernel {
            let r = step(&view, &mut state, black_box(&batch), &mut out);
            black_box(&r);
            if r.dropped != 0 {
                return Err("the kernel dropped outputs".into());
            }
        } else {
            interp.run(black_box(&batch), &mut out);
        }
        let (c1, t1) = (tsc(), Instant::now());
        if round > 0 {
            s.cycles.push((c1 - c0) as f64 / n as f64);
            s.ns.push((t1 - t0).as_nanos() as f64 / n as f64);
            s.violations += out.violations.len() as u64;
            s.emitted += out.emitted.len() as u64;
        }
    }
    Ok(s)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (program, name) = program()?;
    let seed = env_or("LEDGRAPH_BENCH_SEED", 1u64);
    if let Some(i) = args.iter().position(|a| a == "--callgrind") {
        let arg = |k: usize| args.get(i + k).map(String::as_str).unwrap_or_default();
        return callgrind(&program, seed, arg(1), arg(2));
    }
    let batches = env_or("LEDGRAPH_BENCH_KERNEL_BATCHES", 11usize).max(1);
    let n = env_or("LEDGRAPH_BENCH_KERNEL_BATCH_OBS", 1_000_000usize).max(1);
    let hz = tsc_hz();
    eprintln!(
        "kernel: {name}, TSC {:.3} GHz, {batches} batches of {n}",
        hz / 1e9
    );
    for mix in [Mix::Telemetry, Mix::Mixed] {
        let k = match measure(&program, mix, seed, batches, n, true) {
            Ok(k) => k,
            Err(e) => {
                emit(
                    &format!("skipped/{}", mix.name()),
                    json!({"program": name, "reason": e.to_string()}),
                );
                continue;
            }
        };
        let i = measure(&program, mix, seed, batches, n, false)?;
        for (engine, s) in [("kernel_step", &k), ("hashmap_interpreter", &i)] {
            emit(
                &format!("{engine}/{}", mix.name()),
                json!({
                    "program": name, "batches": s.cycles.len(), "observations_per_batch": n,
                    "cycles_per_obs_median": round(median(&s.cycles)),
                    "cycles_per_obs": s.cycles.iter().map(|&c| round(c)).collect::<Vec<_>>(),
                    "ns_per_obs_median": round(median(&s.ns)),
                    "violations": s.violations, "emitted": s.emitted,
                    "tsc_ghz": round(hz / 1e9),
                }),
            );
        }
        let (kc, ic) = (median(&k.cycles), median(&i.cycles));
        emit(
            &format!("summary/{}", mix.name()),
            json!({
                "program": name,
                "kernel_cycles_per_obs": round(kc), "target_cycles_max": TARGET_CYCLES_MAX,
                "kernel_obs_per_s": round(1e9 / median(&k.ns)),
                "vs_interpreter": round(ic / kc), "target_vs_interpreter_min": TARGET_VS_INTERP_MIN,
            }),
        );
    }
    Ok(())
}

/// Runs one engine once; the script divides the instructions callgrind counts inside it by the
/// number of observations.
fn callgrind(program: &Program, seed: u64, engine: &str, mix: &str) -> Result<()> {
    let n = env_or("LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS", 200_000usize).max(1);
    let view = program.view()?;
    let mix = if mix == "mixed" {
        Mix::Mixed
    } else {
        Mix::Telemetry
    };
    let (mut source, bound) = Source::new(program, mix, seed, n, CALLGRIND_NODES)?;
    let mut batch = Vec::with_capacity(n);
    source.fill(&mut batch, n);
    let mut out = Actions::for_batch(&view, n);
    // The setup steps are counted too (callgrind collects by function): the stream has few
    // nodes here so that they weigh little next to the `n` observations.
    let setup = source.setup();
    let mut once = Actions::for_batch(&view, setup.len());
    match engine {
        "step" => {
            let mut state = State::new(&view);
            state.ensure_nodes(bound);
            step(&view, &mut state, &setup, &mut once);
            black_box(step(&view, &mut state, black_box(&batch), &mut out));
        }
        "interp" => {
            let mut interp = Interpreter::new(&view);
            interp.run(&setup, &mut once);
            interp.run(black_box(&batch), &mut out);
        }
        other => return Err(format!("--callgrind step|interp, not {other:?}").into()),
    }
    println!("{n}");
    Ok(())
}
