//! The kernel: TSC cycles per observation of `kernel::step` (median of ≥ 10 batches of 1M
//! observations), against the hash-map interpreter of the same rules on the same batches and
//! against the same guards and rules as SPARQL over an in-memory Oxigraph store (a small sample,
//! extrapolated per observation), all in one run.
//!
//! Program: the compiled demo descriptor when `LEDGRAPH_BENCH_DESCRIPTOR` names one (not wired
//! yet: the hand-built sample program of `kernel::sample` otherwise, whose guards and rules
//! are `queries/kernel/sample-*.rq` as SPARQL).
//!
//! Two streams (see `Mix`): telemetry (sensor readings, 99% inside what the guards accept
//! and below what the rules react to) and mixed (every guarded predicate, values around every
//! bound: most observations take the exact path).
//!
//! Modes: `cargo bench --bench kernel` (all cases, JSON lines on stdout);
//! `cargo bench --bench kernel -- --callgrind step|interp telemetry|mixed` runs only one on
//! `LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS` observations, for `benches/kernel_callgrind.sh`,
//! which runs it under `valgrind --tool=callgrind` and prints instructions per observation.
//! Environment: `LEDGRAPH_BENCH_KERNEL_BATCHES` (11), `LEDGRAPH_BENCH_KERNEL_BATCH_OBS`
//! (1,000,000), `LEDGRAPH_BENCH_KERNEL_SPARQL_OBS` (20,000), `LEDGRAPH_BENCH_SEED` (1).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use ledgraph::kernel::intern::parse_term;
use ledgraph::kernel::interp::Interpreter;
use ledgraph::kernel::program::{Program, ProgramView, node_kind};
use ledgraph::kernel::{Actions, Observation, State, sample, step};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Store;
use oxrdf::vocab::{rdfs, xsd};
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use serde_json::json;

const BENCH: &str = "kernel";
const NODES: u32 = 100_000;
const TARGET_CYCLES_MAX: f64 = 8.0;
const TARGET_VS_INTERP_MIN: f64 = 5.0;
const TARGET_VS_SPARQL_MIN: f64 = 10_000.0;
const SPARQL_VIOLATIONS: &str = include_str!("../queries/kernel/sample-violations.rq");
const SPARQL_DERIVED: &str = include_str!("../queries/kernel/sample-derived.rq");

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

struct Setup {
    program: Program,
    seed: u64,
}

/// The two observation streams: a telemetry-like one (readings, 99% in range) and an
/// adversarial mix (every guarded predicate, values on and around every bound).
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

/// A seeded source of batches of one mix.
enum Source {
    Telemetry(sample::Telemetry),
    Mixed(sample::Generator),
}

impl Source {
    fn fill(&mut self, batch: &mut Vec<Observation>, n: usize) {
        match self {
            Source::Telemetry(g) => g.fill(batch, n),
            Source::Mixed(g) => g.fill(batch, n),
        }
    }

    fn id_bound(&self) -> usize {
        match self {
            Source::Telemetry(g) => g.id_bound(),
            Source::Mixed(g) => g.id_bound(),
        }
    }
}

impl Setup {
    fn view(&self) -> Result<ProgramView<'_>> {
        self.program.view().context("the bench program is invalid")
    }

    fn source(&self, mix: Mix) -> Result<Source> {
        Ok(match mix {
            Mix::Mixed => Source::Mixed(sample::Generator::new(&self.program, self.seed, NODES)),
            Mix::Telemetry => {
                let view = self.view()?;
                let state = State::new(&view);
                Source::Telemetry(
                    sample::Telemetry::new(&view, &state, self.seed, NODES)
                        .context("the program has no numeric predicate for a telemetry stream")?,
                )
            }
        })
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let setup = Setup {
        program: sample::program(),
        seed: common::env_or("LEDGRAPH_BENCH_SEED", 1u64)?,
    };
    if let Some(i) = args.iter().position(|a| a == "--callgrind") {
        let arg = |k: usize| args.get(i + k).map(String::as_str).unwrap_or_default();
        return callgrind(&setup, arg(1), arg(2));
    }
    // `cargo bench` passes `--bench`; anything else is a filter we do not support.
    let batches = common::env_or("LEDGRAPH_BENCH_KERNEL_BATCHES", 11usize)?;
    let batch_obs = common::env_or("LEDGRAPH_BENCH_KERNEL_BATCH_OBS", 1_000_000usize)?;
    let sparql_obs = common::env_or("LEDGRAPH_BENCH_KERNEL_SPARQL_OBS", 20_000usize)?;
    ensure!(
        batches >= 1 && batch_obs >= 1 && sparql_obs >= 1,
        "sizes must be positive"
    );
    let hz = tsc_hz();
    eprintln!(
        "kernel: TSC {:.3} GHz, {batches} batches of {batch_obs}",
        hz / 1e9
    );

    let mut medians = Vec::new();
    for mix in [Mix::Telemetry, Mix::Mixed] {
        let kernel = measure_kernel(&setup, mix, batches, batch_obs)?;
        emit(
            &format!("kernel_step/{}", mix.name()),
            &kernel,
            hz,
            batch_obs,
        );
        let interp = measure_interp(&setup, mix, batches, batch_obs)?;
        emit(
            &format!("hashmap_interpreter/{}", mix.name()),
            &interp,
            hz,
            batch_obs,
        );
        medians.push((
            mix,
            common::median(&kernel.cycles),
            common::median(&interp.cycles),
        ));
    }
    let sparql_ns = measure_sparql(&setup, sparql_obs)?;
    let sparql_cycles = sparql_ns * hz / 1e9;
    common::emit(
        BENCH,
        "sparql_oxigraph",
        vec![
            ("sample_observations", json!(sparql_obs)),
            ("ns_per_obs", json!(common::round(sparql_ns))),
            ("cycles_per_obs", json!(common::round(sparql_cycles))),
        ],
    );
    for (mix, k, i) in medians {
        common::emit(
            BENCH,
            &format!("summary/{}", mix.name()),
            vec![
                ("program", json!("kernel::sample")),
                ("kernel_cycles_per_obs", json!(common::round(k))),
                ("target_cycles_max", json!(TARGET_CYCLES_MAX)),
                ("vs_interpreter", json!(common::round(i / k))),
                ("target_vs_interpreter_min", json!(TARGET_VS_INTERP_MIN)),
                ("vs_sparql", json!(common::round(sparql_cycles / k))),
                ("target_vs_sparql_min", json!(TARGET_VS_SPARQL_MIN)),
                ("tsc_ghz", json!(common::round(hz / 1e9))),
            ],
        );
    }
    Ok(())
}

#[derive(Default)]
struct Samples {
    cycles: Vec<f64>,
    ns: Vec<f64>,
    violations: u64,
    emitted: u64,
}

fn emit(case: &str, s: &Samples, hz: f64, batch_obs: usize) {
    common::emit(
        BENCH,
        case,
        vec![
            ("batches", json!(s.cycles.len())),
            ("observations_per_batch", json!(batch_obs)),
            (
                "cycles_per_obs_median",
                json!(common::round(common::median(&s.cycles))),
            ),
            ("cycles_per_obs", common::rounded(&s.cycles)),
            (
                "ns_per_obs_median",
                json!(common::round(common::median(&s.ns))),
            ),
            ("tsc_ghz", json!(common::round(hz / 1e9))),
            ("violations", json!(s.violations)),
            ("emitted", json!(s.emitted)),
        ],
    );
}

fn measure_kernel(setup: &Setup, mix: Mix, batches: usize, n: usize) -> Result<Samples> {
    let view = setup.view()?;
    let mut generator = setup.source(mix)?;
    let mut types = State::new(&view);
    types.ensure_nodes(generator.id_bound());
    let mut out = Actions::for_batch(&view, n);
    let mut batch = Vec::with_capacity(n);
    let mut s = Samples::default();
    // One warm-up batch (page faults in the buffers, caches), not counted.
    for round in 0..=batches {
        generator.fill(&mut batch, n);
        let (t0, c0) = (Instant::now(), tsc());
        let r = step(&view, &mut types, black_box(&batch), &mut out);
        let (c1, t1) = (tsc(), Instant::now());
        black_box(&r);
        ensure!(r.dropped == 0, "kernel dropped outputs");
        if round > 0 {
            s.cycles.push((c1 - c0) as f64 / n as f64);
            s.ns.push((t1 - t0).as_nanos() as f64 / n as f64);
            s.violations += r.violations;
            s.emitted += r.emitted + r.alerts;
        }
    }
    Ok(s)
}

fn measure_interp(setup: &Setup, mix: Mix, batches: usize, n: usize) -> Result<Samples> {
    let view = setup.view()?;
    let mut generator = setup.source(mix)?;
    let mut interp = Interpreter::new(&view);
    let mut out = Actions::default();
    let mut batch = Vec::with_capacity(n);
    let mut s = Samples::default();
    for round in 0..=batches {
        generator.fill(&mut batch, n);
        let (t0, c0) = (Instant::now(), tsc());
        interp.run(black_box(&batch), &mut out);
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

/// Nanoseconds per observation of the guards and rules as SPARQL over `n` observations loaded
/// into an in-memory store (median of 3 evaluations of both queries).
fn measure_sparql(setup: &Setup, n: usize) -> Result<f64> {
    let view = setup.view()?;
    let mut generator = setup.source(Mix::Mixed)?;
    let mut batch = Vec::new();
    generator.fill(&mut batch, n);
    let store = Store::new()?;
    let quads: Vec<Quad> = batch
        .iter()
        .filter(|o| o.op == Observation::ADD)
        .filter_map(|o| quad_of(&view, o))
        .chain(subclass_quads(&view))
        .collect();
    store.extend(quads)?;
    let mut times = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let mut rows = 0usize;
        for query in [SPARQL_VIOLATIONS, SPARQL_DERIVED] {
            rows += count(&store, query)?;
        }
        times.push(t0.elapsed().as_nanos() as f64 / n as f64);
        black_box(rows);
    }
    Ok(common::median(&times))
}

fn count(store: &Store, query: &str) -> Result<usize> {
    let results = SparqlEvaluator::new()
        .parse_query(query)?
        .on_store(store)
        .execute()?;
    Ok(match results {
        QueryResults::Solutions(s) => s.count(),
        QueryResults::Graph(g) => g.count(),
        QueryResults::Boolean(_) => 1,
    })
}

/// The RDF an observation stands for: program ids through their terms, runtime ids as
/// `urn:ledgraph:node:` IRIs, literals rebuilt from the analysed value.
fn quad_of(view: &ProgramView<'_>, o: &Observation) -> Option<Quad> {
    let known = |id: u32| view.term(id).and_then(parse_term);
    let node = |id: u32| {
        known(id)
            .unwrap_or_else(|| NamedNode::new_unchecked(format!("urn:ledgraph:node:{id}")).into())
    };
    let subject = match node(o.s) {
        Term::NamedNode(n) => NamedOrBlankNode::NamedNode(n),
        _ => return None,
    };
    let Term::NamedNode(predicate) = node(o.p) else {
        return None;
    };
    let object: Term = match o.kind {
        node_kind::BLANK => BlankNode::new_unchecked(format!("b{}", o.o)).into(),
        node_kind::LITERAL => match known(o.o) {
            Some(t) => t,
            None if view.term(o.datatype) == Some(&format!("<{}>", xsd::DECIMAL.as_str())) => {
                Literal::new_typed_literal(format!("{}", o.num), xsd::DECIMAL).into()
            }
            None if o.num.is_nan() => Literal::new_simple_literal(format!("AB-{}", o.o)).into(),
            None => Literal::new_simple_literal(format!("{}", o.num)).into(),
        },
        _ => node(o.o),
    };
    Some(Quad::new(
        subject,
        predicate,
        object,
        GraphName::DefaultGraph,
    ))
}

/// `c rdfs:subClassOf d` for every pair of the closure, so `a/rdfs:subClassOf*` sees the same
/// classes as the kernel's bitsets.
fn subclass_quads(view: &ProgramView<'_>) -> Vec<Quad> {
    let h = view.header();
    let words = h.class_words as usize;
    let mut out = Vec::new();
    for c in 0..h.class_count {
        let row = &view.parts().class_closure[c as usize * words..][..words];
        for d in
            (0..h.class_count).filter(|&d| d != c && (row[d as usize / 64] >> (d % 64)) & 1 == 1)
        {
            let (Some(Term::NamedNode(sub)), Some(Term::NamedNode(sup))) = (
                view.term(c).and_then(parse_term),
                view.term(d).and_then(parse_term),
            ) else {
                continue;
            };
            out.push(Quad::new(
                sub,
                rdfs::SUB_CLASS_OF,
                sup,
                GraphName::DefaultGraph,
            ));
        }
    }
    out
}

/// Runs one engine on `LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS` observations; the script divides
/// the instructions callgrind counts inside it by that number.
fn callgrind(setup: &Setup, engine: &str, mix: &str) -> Result<()> {
    let n = common::env_or("LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS", 1_000_000usize)?;
    let view = setup.view()?;
    let mix = if mix == "mixed" {
        Mix::Mixed
    } else {
        Mix::Telemetry
    };
    let mut generator = setup.source(mix)?;
    let mut batch = Vec::with_capacity(n);
    generator.fill(&mut batch, n);
    match engine {
        "step" => {
            let mut types = State::new(&view);
            types.ensure_nodes(generator.id_bound());
            let mut out = Actions::for_batch(&view, n);
            black_box(step(&view, &mut types, black_box(&batch), &mut out));
        }
        "interp" => {
            let mut interp = Interpreter::new(&view);
            let mut out = Actions::default();
            interp.run(black_box(&batch), &mut out);
            black_box(&out);
        }
        other => anyhow::bail!("--callgrind step|interp, not {other:?}"),
    }
    println!("{n}");
    Ok(())
}
