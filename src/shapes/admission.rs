//! Validating one batch: build its context ([`super::context`]), describe its events as
//! `lg:Event` nodes when a shape asks for them, run rudof on each active shape set, and keep
//! the results whose focus node the batch can affect.
//!
//! Results for other nodes of the context are dropped: their own context was not read in full,
//! so a result about them would be an artefact of the cut, not a fact about the store.

use std::collections::HashMap;
use std::sync::Arc;

use oxigraph::store::Store;
use oxrdf::vocab::rdf;
use oxrdf::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term, Triple};
use rudof_rdf::rdf_impl::OxigraphInMemory;
use shacl::validator::processor::{GraphValidation, ShaclProcessor};
use shacl::validator::report::ValidationResult;
use shacl::validator::store::Graph as RudofGraph;
use shacl::validator::{ShaclConfig, ShaclValidationMode};

use super::context::{self, Context};
use super::report::{BatchReport, Finding};
use super::{Mode, ShapeSet, Shapes, ShapesError};
use crate::event::Op;
use crate::store::event_graph::event_iri;

const LG: &str = "https://ledgraph.dev/ns#";

/// The outcome of validating a batch.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Every violation, of every set that is not `off`.
    pub report: BatchReport,
}

impl Verdict {
    /// Whether an `enforce` set was violated: the batch must be refused.
    pub fn rejects(&self) -> bool {
        self.report.findings.iter().any(|f| f.mode == Mode::Enforce)
    }

    /// The violations of `warn` sets, to record with the batch.
    pub fn warnings(&self) -> BatchReport {
        self.report.in_mode(Mode::Warn)
    }
}

/// The shapes in force and a way to swap them atomically (`POST /v1/shapes`).
#[derive(Debug)]
pub struct Admission {
    current: std::sync::RwLock<Arc<Shapes>>,
}

impl Admission {
    pub fn new(shapes: Arc<Shapes>) -> Admission {
        Admission {
            current: std::sync::RwLock::new(shapes),
        }
    }

    pub fn current(&self) -> Arc<Shapes> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, shapes: Arc<Shapes>) {
        match self.current.write() {
            Ok(mut g) => *g = shapes,
            Err(poisoned) => *poisoned.into_inner() = shapes,
        }
    }
}

/// Validates `changes` (the whole batch, in order) against the state in `store` as it will be
/// after the batch. `first_seq` is the sequence number the batch's first event will get, used
/// to name event nodes; the store must reflect every event before it.
pub fn validate_batch(
    store: &Store,
    shapes: &Shapes,
    changes: &[(Op, Quad)],
    first_seq: u64,
) -> Result<Verdict, ShapesError> {
    if !shapes.is_active() || changes.is_empty() {
        return Ok(Verdict::default());
    }
    let mut ctx = context::build(store, changes, &shapes.plan)?;
    if shapes.plan.describes_events {
        describe_events(&mut ctx, changes, first_seq);
    }
    let graph = rudof_graph(ctx.triples.iter().map(|t| t.as_ref()));
    let events = EventIndex::new(changes, first_seq);
    let mut report = BatchReport::default();
    validate_sets(shapes, &graph, |set, result| {
        let focus = Term::from(result.focus_node().clone());
        if !ctx.candidates.contains(&focus) {
            return;
        }
        let value = result.value().map(|v| Term::from(v.clone()));
        report.findings.push(Finding {
            set: set.name.clone(),
            mode: set.mode,
            event: events
                .of(&focus)
                .or_else(|| value.and_then(|v| events.of(&v))),
            result: result.clone(),
        });
    })?;
    report
        .findings
        .sort_by_key(|f| (f.event.unwrap_or(usize::MAX), f.set.clone()));
    Ok(Verdict { report })
}

/// The graph [`validate_batch`] hands rudof for `changes`: the affected nodes' context after the
/// batch (and the events as nodes, when shapes target them). For benchmarks and tests that give
/// another validator the same input.
pub fn context_graph(
    store: &Store,
    shapes: &Shapes,
    changes: &[(Op, Quad)],
    first_seq: u64,
) -> Result<oxrdf::Graph, ShapesError> {
    let mut ctx = context::build(store, changes, &shapes.plan)?;
    if shapes.plan.describes_events {
        describe_events(&mut ctx, changes, first_seq);
    }
    Ok(ctx.triples.iter().collect())
}

/// Validates a whole graph in memory against every set that is not `off`, with no context cut
/// and no attribution to events: what rudof alone says (the reference the incremental path is
/// tested against, and the baseline of `benches/admission`).
pub fn validate_graph(shapes: &Shapes, graph: &oxrdf::Graph) -> Result<BatchReport, ShapesError> {
    let graph = rudof_graph(graph.iter());
    let mut report = BatchReport::default();
    validate_sets(shapes, &graph, |set, result| {
        report.findings.push(Finding {
            set: set.name.clone(),
            mode: set.mode,
            event: None,
            result: result.clone(),
        })
    })?;
    Ok(report)
}

/// rudof's in-memory graph holding `triples`.
fn rudof_graph<'a>(triples: impl Iterator<Item = oxrdf::TripleRef<'a>>) -> OxigraphInMemory {
    let mut graph = OxigraphInMemory::new();
    for t in triples {
        // Cannot fail: the in-memory graph only inserts.
        let _ = graph.add_triple_ref(t.subject, t.predicate, t.object);
    }
    graph
}

/// Runs every shape set that is not `off` over `graph`, handing each result to `found`.
fn validate_sets(
    shapes: &Shapes,
    graph: &OxigraphInMemory,
    mut found: impl FnMut(&ShapeSet, &ValidationResult),
) -> Result<(), ShapesError> {
    for set in shapes.sets.iter().filter(|s| s.mode != Mode::Off) {
        let mut validation = GraphValidation::new(RudofGraph::from(graph.clone()));
        let report = validation
            .validate(
                &set.schema,
                &ShaclValidationMode::Native,
                &ShaclConfig::default(),
            )
            .map_err(|e| ShapesError::Validation(e.to_string()))?;
        for result in report.results() {
            found(set, result);
        }
    }
    Ok(())
}

/// Each event as an `lg:Event` node named by its future sequence number.
fn describe_events(ctx: &mut Context, changes: &[(Op, Quad)], first_seq: u64) {
    let lg = |local: &str| NamedNode::new_unchecked(format!("{LG}{local}"));
    for (i, (op, quad)) in changes.iter().enumerate() {
        let node = event_iri(first_seq + i as u64);
        let s = NamedOrBlankNode::NamedNode(node.clone());
        let op = match op {
            Op::Add => lg("add"),
            Op::Remove => lg("remove"),
        };
        let mut add = |p: NamedNode, o: Term| {
            ctx.triples.insert(Triple::new(s.clone(), p, o));
        };
        add(rdf::TYPE.into_owned(), lg("Event").into());
        add(lg("op"), op.into());
        add(lg("subject"), quad.subject.clone().into());
        add(lg("predicate"), quad.predicate.clone().into());
        add(lg("object"), quad.object.clone());
        if let GraphName::NamedNode(g) = &quad.graph_name {
            add(lg("graph"), g.clone().into());
        }
        ctx.candidates.insert(node.into());
    }
}

/// Which event of the batch a node belongs to.
struct EventIndex {
    first: HashMap<Term, usize>,
    first_seq: u64,
    len: usize,
}

impl EventIndex {
    fn new(changes: &[(Op, Quad)], first_seq: u64) -> EventIndex {
        let mut first = HashMap::new();
        for (i, (_, quad)) in changes.iter().enumerate() {
            first.entry(quad.subject.clone().into()).or_insert(i);
        }
        for (i, (_, quad)) in changes.iter().enumerate() {
            first.entry(quad.object.clone()).or_insert(i);
        }
        EventIndex {
            first,
            first_seq,
            len: changes.len(),
        }
    }

    fn of(&self, term: &Term) -> Option<usize> {
        if let Some(&i) = self.first.get(term) {
            return Some(i);
        }
        let Term::NamedNode(n) = term else {
            return None;
        };
        let seq: u64 = n
            .as_str()
            .strip_prefix(crate::store::vocab::EVENT_PREFIX)?
            .parse()
            .ok()?;
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        (i < self.len).then_some(i)
    }
}
