//! [`AsOfDataset`]: the state at a past log size as a spareval `QueryableDataset`.
//!
//! See the parent module for the model and the cost of each kind of pattern. Terms are plain
//! `oxrdf::Term`s (Oxigraph's own encoded terms are private): converting is cheap next to the
//! index seeks and log reads a pattern costs.
//!
//! Terms are compared the way Oxigraph's store compares them: it keeps numeric, boolean and
//! date/time literals as values, so `"01"^^xsd:integer`, `"1"^^xsd:int` and `1` are one term
//! there (a `remove` of one deletes an `add` of another) and come back in canonical form.
//! [`canonical`] applies the same mapping (spareval's value round trip, which mirrors
//! Oxigraph's encoder) to every term read from the log or given by the query.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use oxigraph::sparql::CancellationToken;
use oxigraph::store::{QuadIter, Store};
use oxrdf::{GraphName, GraphNameRef, NamedNodeRef, NamedOrBlankNode, Quad, Term, TermRef};
use spareval::{ExpressionTerm, InternalQuad, QueryableDataset};

use super::{AsOfError, AsOfLimits, AsOfSpec, resolve};
use crate::event::Op;
use crate::log::LogReader;
use crate::store::{GraphStore, is_reserved_graph, vocab};

/// How often (in events) long loops check the query's cancellation token.
const CANCEL_CHECK_EVENTS: usize = 256;

type Row = InternalQuad<Term>;
type RowResult = Result<Row, AsOfError>;

struct Inner {
    store: Store,
    log: Arc<LogReader>,
    size: u64,
    /// Events `0..indexed_end` are found through the event graph, `indexed_end..size` in `tail`.
    indexed_end: u64,
    /// Events `indexed_end..size`, newest first.
    tail: Vec<(Op, Quad)>,
    /// Positions in `tail` by subject and by object (newest first).
    tail_by_subject: HashMap<Term, Vec<usize>>,
    tail_by_object: HashMap<Term, Vec<usize>>,
    limits: AsOfLimits,
    cancel: Option<CancellationToken>,
    reads: Rc<ReadCounts>,
}

#[derive(Debug, Default)]
struct ReadCounts {
    events: Cell<u64>,
    index_entries: Cell<u64>,
}

/// What a dataset has read so far: log records and event-graph index entries. For tests and
/// benchmarks that check a query's cost does not grow with the log.
#[derive(Debug, Clone)]
pub struct ReadCounter(Rc<ReadCounts>);

impl ReadCounter {
    /// Log records read (the unindexed tail included).
    pub fn events(&self) -> u64 {
        self.0.events.get()
    }

    /// Event-graph index entries visited.
    pub fn index_entries(&self) -> u64 {
        self.0.index_entries.get()
    }
}

/// The state after events `0..size` of a log, for SPARQL evaluation with
/// `PreparedSparqlQuery::on_queryable_dataset`.
///
/// ```no_run
/// # fn demo(store: &ledgraph::store::GraphStore, log: std::sync::Arc<ledgraph::log::LogReader>)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use ledgraph::store::as_of::{AsOfDataset, AsOfLimits};
/// use oxigraph::sparql::SparqlEvaluator;
///
/// let past = AsOfDataset::new(store, log, 42, &AsOfLimits::default())?;
/// let results = SparqlEvaluator::new()
///     .parse_query("SELECT * WHERE { <https://e.org/s> ?p ?o }")?
///     .on_queryable_dataset(past)
///     .execute()?;
/// # Ok(()) }
/// ```
pub struct AsOfDataset {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for AsOfDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsOfDataset")
            .field("size", &self.inner.size)
            .field("indexed_end", &self.inner.indexed_end)
            .finish()
    }
}

impl AsOfDataset {
    /// The state of `store`'s log after events `0..size`. `size` must be a transaction
    /// boundary no larger than the log; the events the store's event graph has not indexed
    /// yet (its cursor) are read from `log` now, at most `limits.unindexed_events_max`.
    pub fn new(
        store: &GraphStore,
        log: Arc<LogReader>,
        size: u64,
        limits: &AsOfLimits,
    ) -> Result<Self, AsOfError> {
        resolve(&log, AsOfSpec::Size(size))?;
        let indexed = store.cursors()?.events;
        let indexed_end = indexed.min(size);
        if size - indexed_end > limits.unindexed_events_max {
            return Err(AsOfError::NotIndexed {
                size,
                indexed,
                unindexed_max: limits.unindexed_events_max,
            });
        }
        let reads = Rc::new(ReadCounts::default());
        reads.events.set(size - indexed_end);
        let mut tail = Vec::with_capacity((size - indexed_end) as usize);
        let mut tail_by_subject: HashMap<Term, Vec<usize>> = HashMap::new();
        let mut tail_by_object: HashMap<Term, Vec<usize>> = HashMap::new();
        for seq in (indexed_end..size).rev() {
            let mut event = log.event(seq)?;
            event.quad = canonical_quad(event.quad);
            let at = tail.len();
            tail_by_subject
                .entry(event.quad.subject.clone().into())
                .or_default()
                .push(at);
            tail_by_object
                .entry(event.quad.object.clone())
                .or_default()
                .push(at);
            tail.push((event.op, event.quad));
        }
        Ok(AsOfDataset {
            inner: Rc::new(Inner {
                store: store.oxigraph().clone(),
                log,
                size,
                indexed_end,
                tail,
                tail_by_subject,
                tail_by_object,
                limits: limits.clone(),
                cancel: None,
                reads,
            }),
        })
    }

    /// Stops long scans when `token` is cancelled (give it the query's token).
    pub fn with_cancellation_token(mut self, token: CancellationToken) -> Self {
        if let Some(inner) = Rc::get_mut(&mut self.inner) {
            inner.cancel = Some(token);
        }
        self
    }

    /// A handle on what this dataset reads, still valid after it moved into a query.
    pub fn read_counter(&self) -> ReadCounter {
        ReadCounter(self.inner.reads.clone())
    }

    /// The log size this dataset shows the state at.
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    /// How many of its events were read from the log because the event graph had not indexed
    /// them yet.
    pub fn unindexed_events(&self) -> u64 {
        self.inner.size - self.inner.indexed_end
    }
}

/// Which graphs a pattern reads (spareval's `Option<Option<&T>>`).
#[derive(Clone)]
enum GraphSel {
    Default,
    AnyNamed,
    Named(Term),
}

#[derive(Clone)]
struct Pattern {
    s: Option<Term>,
    p: Option<Term>,
    o: Option<Term>,
    g: GraphSel,
}

fn graph_term(g: &GraphName) -> Option<Term> {
    match g {
        GraphName::DefaultGraph => None,
        GraphName::NamedNode(n) => Some(n.clone().into()),
        GraphName::BlankNode(b) => Some(b.clone().into()),
    }
}

fn is_reserved_term(t: &Term) -> bool {
    matches!(t, Term::NamedNode(n) if is_reserved_graph(GraphNameRef::NamedNode(n.as_ref())))
}

impl Pattern {
    fn matches(&self, q: &Quad) -> bool {
        if is_reserved_graph(q.graph_name.as_ref()) {
            return false;
        }
        let graph_ok = match &self.g {
            GraphSel::Default => q.graph_name.is_default_graph(),
            GraphSel::AnyNamed => !q.graph_name.is_default_graph(),
            GraphSel::Named(g) => graph_term(&q.graph_name).as_ref() == Some(g),
        };
        graph_ok
            && self
                .s
                .as_ref()
                .is_none_or(|s| s.as_ref() == TermRef::from(q.subject.as_ref()))
            && self
                .p
                .as_ref()
                .is_none_or(|p| p.as_ref() == TermRef::from(q.predicate.as_ref()))
            && self
                .o
                .as_ref()
                .is_none_or(|o| o.as_ref() == q.object.as_ref())
    }

    /// The event-graph property and value to look candidates up by, most selective first.
    fn key(&self) -> Option<(NamedNodeRef<'static>, &Term)> {
        if let Some(s) = &self.s {
            return Some((vocab::SUBJECT, s));
        }
        if let Some(o) = &self.o {
            return Some((vocab::OBJECT, o));
        }
        if let GraphSel::Named(g) = &self.g {
            return Some((vocab::GRAPH, g));
        }
        self.p.as_ref().map(|p| (vocab::PREDICATE, p))
    }
}

/// `term` as Oxigraph's store would give it back (see the module docs).
fn canonical(term: Term) -> Term {
    match term {
        Term::Literal(_) => Term::from(ExpressionTerm::from(term)),
        other => other,
    }
}

fn canonical_quad(mut q: Quad) -> Quad {
    q.object = canonical(q.object);
    q
}

fn row(q: Quad) -> Row {
    let graph_name = graph_term(&q.graph_name);
    InternalQuad {
        subject: q.subject.into(),
        predicate: q.predicate.into(),
        object: q.object,
        graph_name,
    }
}

/// The sequence number of an event node, read off its IRI.
fn seq_of(node: &NamedOrBlankNode) -> Result<u64, AsOfError> {
    match node {
        NamedOrBlankNode::NamedNode(n) => n
            .as_str()
            .strip_prefix(vocab::EVENT_PREFIX)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| AsOfError::Corruption(format!("{n} is not an event node"))),
        NamedOrBlankNode::BlankNode(b) => Err(AsOfError::Corruption(format!(
            "blank node {b} where an event node belongs"
        ))),
    }
}

impl Inner {
    /// Event `seq` from the log, counted.
    fn read_event(&self, seq: u64) -> Result<crate::event::Event, AsOfError> {
        self.reads.events.set(self.reads.events.get() + 1);
        Ok(self.log.event(seq)?)
    }

    /// Counts the `i`-th event-graph index entry of a loop, and checks for cancellation.
    fn index_entry(&self, i: usize) -> Result<(), AsOfError> {
        self.reads
            .index_entries
            .set(self.reads.index_entries.get() + 1);
        self.check_cancel(i)
    }

    fn check_cancel(&self, i: usize) -> Result<(), AsOfError> {
        if i % CANCEL_CHECK_EVENTS == 0 && self.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(AsOfError::Cancelled);
        }
        Ok(())
    }

    /// The event-graph entries `?e <property> <value>`.
    fn lookup(&self, property: NamedNodeRef<'_>, value: Option<&Term>) -> QuadIter<'static> {
        self.store.quads_for_pattern(
            None,
            Some(property),
            value.map(Term::as_ref),
            Some(GraphNameRef::NamedNode(vocab::EVENT_GRAPH)),
        )
    }

    /// The quads matching `pattern` present at `size`, given candidate events: `tail`
    /// positions (newest first) and indexed sequence numbers (any order).
    fn latest(
        &self,
        pattern: &Pattern,
        tail: impl Iterator<Item = usize>,
        mut seqs: Vec<u64>,
        out: &mut Vec<Row>,
    ) -> Result<(), AsOfError> {
        let mut latest: HashMap<Quad, bool> = HashMap::new();
        for at in tail {
            let (op, quad) = &self.tail[at];
            if pattern.matches(quad) {
                latest.entry(quad.clone()).or_insert(*op == Op::Add);
            }
        }
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        seqs.dedup();
        for (i, seq) in seqs.into_iter().enumerate() {
            self.check_cancel(i)?;
            let event = self.read_event(seq)?;
            let quad = canonical_quad(event.quad);
            if pattern.matches(&quad) {
                latest.entry(quad).or_insert(event.op == Op::Add);
            }
        }
        out.extend(
            latest
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(q, _)| row(q)),
        );
        Ok(())
    }

    /// Answers through the event-graph index on `property value`; `None` when it names more
    /// than `candidates_max` events (the caller scans instead).
    fn keyed(
        &self,
        pattern: &Pattern,
        property: NamedNodeRef<'_>,
        value: &Term,
        candidates_max: usize,
    ) -> Result<Option<Vec<Row>>, AsOfError> {
        let mut seqs = Vec::new();
        for (i, entry) in self.lookup(property, Some(value)).enumerate() {
            self.index_entry(i)?;
            let seq = seq_of(&entry?.subject)?;
            if seq < self.indexed_end {
                if seqs.len() >= candidates_max {
                    return Ok(None);
                }
                seqs.push(seq);
            }
        }
        let tail: Vec<usize> = if property == vocab::SUBJECT {
            self.tail_by_subject.get(value).cloned().unwrap_or_default()
        } else if property == vocab::OBJECT {
            self.tail_by_object.get(value).cloned().unwrap_or_default()
        } else {
            (0..self.tail.len()).collect()
        };
        let mut out = Vec::new();
        self.latest(pattern, tail.into_iter(), seqs, &mut out)?;
        Ok(Some(out))
    }

    /// Whether any `add` before `size` put a quad in graph `g` (Oxigraph keeps a graph's name
    /// from its first insert on, whatever is removed later).
    fn graph_exists(&self, g: &Term) -> Result<bool, AsOfError> {
        if is_reserved_term(g) {
            return Ok(false);
        }
        let in_g = |q: &Quad| graph_term(&q.graph_name).as_ref() == Some(g);
        if self.tail.iter().any(|(op, q)| *op == Op::Add && in_g(q)) {
            return Ok(true);
        }
        for (i, entry) in self.lookup(vocab::GRAPH, Some(g)).enumerate() {
            self.index_entry(i)?;
            let seq = seq_of(&entry?.subject)?;
            if seq < self.indexed_end && self.read_event(seq)?.op == Op::Add {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every graph with an `add` before `size`, from the `lg:graph` index (once an `add` is
    /// found for a graph, its other entries are skipped without reading the log).
    fn named_graphs(&self) -> Result<Vec<Term>, AsOfError> {
        let mut found: HashSet<Term> = HashSet::new();
        for (op, q) in &self.tail {
            if let Some(g) = graph_term(&q.graph_name) {
                if *op == Op::Add && !is_reserved_term(&g) {
                    found.insert(g);
                }
            }
        }
        for (i, entry) in self.lookup(vocab::GRAPH, None).enumerate() {
            self.index_entry(i)?;
            let entry = entry?;
            if found.contains(&entry.object) || is_reserved_term(&entry.object) {
                continue;
            }
            let seq = seq_of(&entry.subject)?;
            if seq < self.indexed_end && self.read_event(seq)?.op == Op::Add {
                found.insert(entry.object);
            }
        }
        Ok(found.into_iter().collect())
    }
}

/// The lazy scan for patterns no index narrows: every subject the history names (from the
/// `lg:subject` index and the tail, held as a set — Oxigraph does not promise its iteration
/// order, so groups cannot be cut from the stream), then one subject's history at a time.
struct Scan {
    inner: Rc<Inner>,
    pattern: Pattern,
    subjects: Option<std::vec::IntoIter<Term>>,
    ready: std::vec::IntoIter<Row>,
    finished: bool,
}

impl Scan {
    fn new(inner: Rc<Inner>, pattern: Pattern) -> Self {
        Scan {
            inner,
            pattern,
            subjects: None,
            ready: Vec::new().into_iter(),
            finished: false,
        }
    }

    fn subjects(&self) -> Result<Vec<Term>, AsOfError> {
        let mut subjects: HashSet<Term> = self.inner.tail_by_subject.keys().cloned().collect();
        for (i, entry) in self.inner.lookup(vocab::SUBJECT, None).enumerate() {
            self.inner.index_entry(i)?;
            let entry = entry?;
            if seq_of(&entry.subject)? < self.inner.indexed_end {
                subjects.insert(entry.object);
            }
        }
        Ok(subjects.into_iter().collect())
    }

    /// The next subject's present quads; `None` when every subject is done.
    fn next_group(&mut self) -> Result<Option<Vec<Row>>, AsOfError> {
        if self.subjects.is_none() {
            self.subjects = Some(self.subjects()?.into_iter());
        }
        let Some(subject) = self.subjects.as_mut().and_then(Iterator::next) else {
            return Ok(None);
        };
        self.inner
            .keyed(&self.pattern, vocab::SUBJECT, &subject, usize::MAX)
            .map(|rows| Some(rows.unwrap_or_default()))
    }
}

impl Iterator for Scan {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        loop {
            if let Some(row) = self.ready.next() {
                return Some(Ok(row));
            }
            if self.finished {
                return None;
            }
            match self.next_group() {
                Ok(Some(rows)) => self.ready = rows.into_iter(),
                Ok(None) => self.finished = true,
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn evaluate(inner: Rc<Inner>, pattern: Pattern) -> Box<dyn Iterator<Item = RowResult>> {
    if let Some((property, value)) = pattern.key() {
        // The scan goes subject by subject: for a bound subject it could do no better.
        let candidates_max = if property == vocab::SUBJECT {
            usize::MAX
        } else {
            inner.limits.candidate_events_max
        };
        match inner.keyed(&pattern, property, value, candidates_max) {
            Ok(Some(rows)) => return Box::new(rows.into_iter().map(Ok)),
            Ok(None) => {}
            Err(e) => return Box::new(std::iter::once(Err(e))),
        }
    }
    Box::new(Scan::new(inner, pattern))
}

impl<'a> QueryableDataset<'a> for AsOfDataset {
    type InternalTerm = Term;
    type Error = AsOfError;

    fn internal_quads_for_pattern(
        &self,
        subject: Option<&Term>,
        predicate: Option<&Term>,
        object: Option<&Term>,
        graph_name: Option<Option<&Term>>,
    ) -> impl Iterator<Item = RowResult> + use<'a> {
        let pattern = Pattern {
            s: subject.cloned(),
            p: predicate.cloned(),
            o: object.cloned(),
            g: match graph_name {
                None => GraphSel::AnyNamed,
                Some(None) => GraphSel::Default,
                Some(Some(g)) => GraphSel::Named(g.clone()),
            },
        };
        evaluate(self.inner.clone(), pattern)
    }

    fn internal_named_graphs(&self) -> impl Iterator<Item = Result<Term, AsOfError>> + use<'a> {
        let graphs: Box<dyn Iterator<Item = Result<Term, AsOfError>>> =
            match self.inner.named_graphs() {
                Ok(graphs) => Box::new(graphs.into_iter().map(Ok)),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
        graphs
    }

    fn contains_internal_graph_name(&self, graph_name: &Term) -> Result<bool, AsOfError> {
        self.inner.graph_exists(graph_name)
    }

    fn internalize_term(&self, term: Term) -> Result<Term, AsOfError> {
        Ok(canonical(term))
    }

    fn externalize_term(&self, term: Term) -> Result<Term, AsOfError> {
        Ok(term)
    }
}
