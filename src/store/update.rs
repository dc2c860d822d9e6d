//! SPARQL 1.1 Update as a delta: the log events an update would cause, computed without
//! changing the store.
//!
//! ledgraph never lets an update write to Oxigraph directly; the store is a projection of
//! the log. [`update_delta`] opens an Oxigraph transaction as a scratchpad over the current
//! state, evaluates the operations in order against it (so later operations see earlier
//! ones), records only *effective* changes — an insert of a quad that is absent, a delete of
//! a quad that is present — applies them to the scratchpad, and drops it without committing.
//! The caller appends the changes as one log transaction.
//!
//! Semantics follow Oxigraph's own update evaluator (the tests compare against it), with these
//! deliberate differences:
//! - `LOAD` is refused ([`UpdateError::Unsupported`]): the server does not fetch URLs.
//! - Blank nodes that would be inserted are skolemized (fresh per `INSERT` template solution,
//!   as the spec requires), because blank nodes never reach the log.
//! - Named graphs exist exactly when they hold a quad (the log cannot record an empty graph),
//!   so `CREATE` is a no-op and `CLEAR`/`DROP` of a missing graph is too, `SILENT` or not.
//! - The graphs ledgraph maintains ([`is_maintained_graph`](super::is_maintained_graph): the
//!   event and meta graphs, shapes and migration records) can be read in `WHERE`, but an
//!   update that would write them is refused, and `CLEAR`/`DROP NAMED`/`ALL` apply to the
//!   user's graphs only.
//!
//! Limits: at most `changes_max` effective changes, and at most
//! [`CANDIDATES_PER_CHANGE_MAX`]` × changes_max` distinct template instantiations per
//! operation (the `WHERE` solutions are held in memory before the operation applies).

use std::collections::HashSet;

use oxigraph::sparql::{CancellationToken, QueryEvaluationError, QueryResults, SparqlEvaluator};
use oxigraph::store::{StorageError, Transaction};
use oxrdf::{BlankNode, GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use spargebra::algebra::{GraphPattern, GraphTarget, QueryDataset};
use spargebra::term::{
    GraphName as SparGraphName, GraphNamePattern, GroundQuad, GroundQuadPattern, GroundTermPattern,
    NamedNodePattern, QuadPattern, TermPattern,
};
use spargebra::{GraphUpdateOperation, Query, SparqlParser};

use super::{GraphStore, StoreError, is_maintained_graph};
use crate::event::Op;
use crate::event::skolem::Skolemizer;

/// How many distinct template instantiations one operation may produce per allowed change.
pub const CANDIDATES_PER_CHANGE_MAX: usize = 4;

/// Why an update produced no delta.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// Not SPARQL 1.1 Update; `line`/`column` (1-based) when the parser says where.
    #[error("SPARQL syntax error: {message}")]
    Syntax {
        message: String,
        line: Option<u64>,
        column: Option<u64>,
    },
    /// Valid SPARQL that ledgraph refuses to run (e.g. `LOAD`).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The update failed while evaluating (including writes to the reserved graphs).
    #[error("{0}")]
    Evaluation(String),
    #[error("the update changes more than {changes_max} quads")]
    Limit { changes_max: usize },
    #[error("the update was cancelled")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The effective changes `update` would make to the current state; see the module docs.
pub fn update_delta(
    store: &GraphStore,
    update: &str,
    base_iri: Option<&str>,
    dataset: &UpdateDataset,
    skolemizer: &mut Skolemizer,
    cancel: CancellationToken,
    changes_max: usize,
) -> Result<Vec<(Op, Quad)>, UpdateError> {
    let mut parsed = parse(update, base_iri)?;
    dataset.apply(&mut parsed)?;
    if parsed
        .operations
        .iter()
        .any(|op| matches!(op, GraphUpdateOperation::Load { .. }))
    {
        return Err(UpdateError::Unsupported(
            "LOAD: the server does not fetch URLs; publish the data instead".into(),
        ));
    }
    let tx = store
        .oxigraph()
        .start_transaction()
        .map_err(|e| store.storage_error(e))?;
    let mut delta = Delta {
        store,
        tx,
        changes: Vec::new(),
        changes_max,
    };
    for (index, operation) in parsed.operations.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(UpdateError::Cancelled);
        }
        let op = Operation {
            index,
            update: &parsed,
            cancel: &cancel,
        };
        op.apply(operation, &mut delta, skolemizer)?;
    }
    // The scratch transaction is dropped here, uncommitted: the store is unchanged.
    Ok(delta.changes)
}

/// The SPARQL Protocol's `using-graph-uri` / `using-named-graph-uri`: the dataset of every
/// `DELETE/INSERT … WHERE` in the request (SPARQL 1.1 Protocol §2.2.3).
#[derive(Debug, Clone, Default)]
pub struct UpdateDataset {
    pub using_graphs: Vec<NamedNode>,
    pub using_named_graphs: Vec<NamedNode>,
}

impl UpdateDataset {
    fn is_empty(&self) -> bool {
        self.using_graphs.is_empty() && self.using_named_graphs.is_empty()
    }

    /// The protocol may not override a dataset the update names itself (USING or WITH, which
    /// the parser turns into a USING dataset).
    fn apply(&self, update: &mut spargebra::Update) -> Result<(), UpdateError> {
        if self.is_empty() {
            return Ok(());
        }
        for operation in &mut update.operations {
            if let GraphUpdateOperation::DeleteInsert { using, .. } = operation {
                if using.is_some() {
                    return Err(UpdateError::Evaluation(
                        "using-graph-uri/using-named-graph-uri cannot be combined with USING or WITH in the update".into(),
                    ));
                }
                *using = Some(QueryDataset {
                    default: self.using_graphs.clone(),
                    named: Some(self.using_named_graphs.clone()),
                });
            }
        }
        Ok(())
    }
}

fn parse(update: &str, base_iri: Option<&str>) -> Result<spargebra::Update, UpdateError> {
    let mut parser = SparqlParser::new();
    if let Some(base) = base_iri {
        parser = parser
            .with_base_iri(base)
            .map_err(|e| UpdateError::Syntax {
                message: format!("invalid base IRI {base:?}: {e}"),
                line: None,
                column: None,
            })?;
    }
    parser
        .parse_update(update)
        .map_err(|e| syntax_error(&e.to_string()))
}

/// spargebra has no accessor for the position, but its parser's message starts with
/// `error at LINE:COLUMN:`.
fn syntax_error(message: &str) -> UpdateError {
    let position = message
        .strip_prefix("error at ")
        .and_then(|rest| rest.split_once(": "))
        .and_then(|(at, _)| at.split_once(':'))
        .and_then(|(line, column)| Some((line.parse().ok()?, column.parse().ok()?)));
    UpdateError::Syntax {
        message: message.to_owned(),
        line: position.map(|(l, _)| l),
        column: position.map(|(_, c)| c),
    }
}

/// The scratchpad and the changes recorded so far.
struct Delta<'a> {
    store: &'a GraphStore,
    tx: Transaction<'a>,
    changes: Vec<(Op, Quad)>,
    changes_max: usize,
}

impl Delta<'_> {
    fn storage(&self, e: StorageError) -> UpdateError {
        UpdateError::Store(self.store.storage_error(e))
    }

    fn check_writable(graph: &GraphName) -> Result<(), UpdateError> {
        if is_maintained_graph(graph.as_ref()) {
            return Err(reserved(graph));
        }
        Ok(())
    }

    fn record(&mut self, op: Op, quad: Quad) -> Result<(), UpdateError> {
        if self.changes.len() >= self.changes_max {
            return Err(UpdateError::Limit {
                changes_max: self.changes_max,
            });
        }
        match op {
            Op::Add => self.tx.insert(&quad),
            Op::Remove => self.tx.remove(&quad),
        }
        self.changes.push((op, quad));
        Ok(())
    }

    fn insert(&mut self, quad: Quad) -> Result<(), UpdateError> {
        Self::check_writable(&quad.graph_name)?;
        if !self.tx.contains(&quad).map_err(|e| self.storage(e))? {
            self.record(Op::Add, quad)?;
        }
        Ok(())
    }

    fn remove(&mut self, quad: Quad) -> Result<(), UpdateError> {
        Self::check_writable(&quad.graph_name)?;
        if self.tx.contains(&quad).map_err(|e| self.storage(e))? {
            self.record(Op::Remove, quad)?;
        }
        Ok(())
    }

    /// Every quad of `graph` (the caller has checked that it may be written).
    fn quads_in(&self, graph: &GraphName) -> Result<Vec<Quad>, UpdateError> {
        self.tx
            .quads_for_pattern(None, None, None, Some(graph.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.storage(e))
    }

    /// The user's named graphs (the graphs ledgraph maintains left out).
    fn user_graphs(&self) -> Result<Vec<GraphName>, UpdateError> {
        let mut graphs = Vec::new();
        for g in self.tx.named_graphs() {
            let g = GraphName::from(g.map_err(|e| self.storage(e))?);
            if !is_maintained_graph(g.as_ref()) {
                graphs.push(g);
            }
        }
        Ok(graphs)
    }
}

fn reserved(graph: &GraphName) -> UpdateError {
    UpdateError::Evaluation(format!(
        "{graph} is maintained by ledgraph and cannot be written (it can be read in WHERE)"
    ))
}

/// One operation of the request, with what it needs to instantiate templates.
struct Operation<'a> {
    index: usize,
    update: &'a spargebra::Update,
    cancel: &'a CancellationToken,
}

impl Operation<'_> {
    fn apply(
        &self,
        operation: &GraphUpdateOperation,
        delta: &mut Delta<'_>,
        skolemizer: &mut Skolemizer,
    ) -> Result<(), UpdateError> {
        match operation {
            GraphUpdateOperation::InsertData { data } => {
                for q in data {
                    // The parser refuses a blank node label shared between operations, so
                    // label-keyed skolemization gives each operation its own nodes.
                    let quad = skolemizer.quad(Quad::new(
                        q.subject.clone(),
                        q.predicate.clone(),
                        q.object.clone(),
                        graph_name(&q.graph_name),
                    ));
                    delta.insert(quad)?;
                }
                Ok(())
            }
            GraphUpdateOperation::DeleteData { data } => {
                for q in data {
                    delta.remove(ground_quad(q))?;
                }
                Ok(())
            }
            GraphUpdateOperation::DeleteInsert {
                delete,
                insert,
                using,
                pattern,
            } => self.delete_insert(delete, insert, using, pattern, delta, skolemizer),
            GraphUpdateOperation::Clear { graph, .. }
            | GraphUpdateOperation::Drop { graph, .. } => self.clear(graph, delta),
            GraphUpdateOperation::Create { .. } => Ok(()),
            GraphUpdateOperation::Load { .. } => Err(UpdateError::Unsupported(
                "LOAD: the server does not fetch URLs".into(),
            )),
        }
    }

    fn clear(&self, target: &GraphTarget, delta: &mut Delta<'_>) -> Result<(), UpdateError> {
        let graphs = match target {
            GraphTarget::NamedNode(g) => vec![GraphName::NamedNode(g.clone())],
            GraphTarget::DefaultGraph => vec![GraphName::DefaultGraph],
            GraphTarget::NamedGraphs => delta.user_graphs()?,
            GraphTarget::AllGraphs => {
                let mut all = vec![GraphName::DefaultGraph];
                all.extend(delta.user_graphs()?);
                all
            }
        };
        for graph in graphs {
            Delta::check_writable(&graph)?;
            for quad in delta.quads_in(&graph)? {
                if self.cancel.is_cancelled() {
                    return Err(UpdateError::Cancelled);
                }
                delta.remove(quad)?;
            }
        }
        Ok(())
    }

    /// `DELETE { … } INSERT { … } USING … WHERE { … }`: the `WHERE` runs as a `SELECT` on the
    /// scratchpad; all deletes of the operation apply before its inserts, as in the spec.
    fn delete_insert(
        &self,
        delete: &[GroundQuadPattern],
        insert: &[QuadPattern],
        using: &Option<QueryDataset>,
        pattern: &GraphPattern,
        delta: &mut Delta<'_>,
        skolemizer: &mut Skolemizer,
    ) -> Result<(), UpdateError> {
        let (deletes, inserts) =
            self.instantiate(delete, insert, using, pattern, delta, skolemizer)?;
        for quad in deletes.quads {
            delta.remove(quad)?;
        }
        for quad in inserts.quads {
            delta.insert(quad)?;
        }
        Ok(())
    }

    /// Runs the `WHERE` and instantiates the templates (deletes, inserts), before any change.
    fn instantiate(
        &self,
        delete: &[GroundQuadPattern],
        insert: &[QuadPattern],
        using: &Option<QueryDataset>,
        pattern: &GraphPattern,
        delta: &Delta<'_>,
        skolemizer: &mut Skolemizer,
    ) -> Result<(Candidates, Candidates), UpdateError> {
        let candidates_max = delta.changes_max.saturating_mul(CANDIDATES_PER_CHANGE_MAX);
        let mut deletes = Candidates::new(candidates_max, delta.changes_max);
        let mut inserts = Candidates::new(candidates_max, delta.changes_max);
        let query = Query::Select {
            dataset: using.clone(),
            pattern: pattern.clone(),
            base_iri: self.update.base_iri.clone(),
        };
        let results = SparqlEvaluator::new()
            .with_cancellation_token(self.cancel.clone())
            .for_query(query)
            .on_transaction(&delta.tx)
            .execute()
            .map_err(evaluation_error)?;
        let QueryResults::Solutions(solutions) = results else {
            return Err(UpdateError::Evaluation(
                "the WHERE clause did not give solutions".into(),
            ));
        };
        for (number, solution) in solutions.enumerate() {
            let solution = solution.map_err(evaluation_error)?;
            let get = |v: &oxrdf::Variable| solution.get(v).cloned();
            for template in delete {
                if let Some(quad) = fill_ground(template, &get) {
                    deletes.push(quad)?;
                }
            }
            for template in insert {
                let fresh = |b: &BlankNode| {
                    // '/' cannot occur in a SPARQL blank node label: no clash with user labels.
                    BlankNode::new_unchecked(format!("{}/{number}/{}", self.index, b.as_str()))
                };
                if let Some(quad) = fill(template, &get, &fresh) {
                    inserts.push(skolemizer.quad(quad))?;
                }
            }
        }
        Ok((deletes, inserts))
    }
}

/// Distinct template instantiations of one operation, in first-seen order, bounded.
struct Candidates {
    seen: HashSet<Quad>,
    quads: Vec<Quad>,
    max: usize,
    changes_max: usize,
}

impl Candidates {
    fn new(max: usize, changes_max: usize) -> Self {
        Candidates {
            seen: HashSet::new(),
            quads: Vec::new(),
            max,
            changes_max,
        }
    }

    fn push(&mut self, quad: Quad) -> Result<(), UpdateError> {
        if self.seen.insert(quad.clone()) {
            if self.quads.len() >= self.max {
                return Err(UpdateError::Limit {
                    changes_max: self.changes_max,
                });
            }
            self.quads.push(quad);
        }
        Ok(())
    }
}

fn evaluation_error(e: QueryEvaluationError) -> UpdateError {
    match e {
        QueryEvaluationError::Cancelled => UpdateError::Cancelled,
        other => UpdateError::Evaluation(other.to_string()),
    }
}

fn graph_name(g: &SparGraphName) -> GraphName {
    match g {
        SparGraphName::NamedNode(n) => GraphName::NamedNode(n.clone()),
        SparGraphName::DefaultGraph => GraphName::DefaultGraph,
    }
}

fn ground_quad(q: &GroundQuad) -> Quad {
    let object: Term = q.object.clone().into();
    Quad::new(
        q.subject.clone(),
        q.predicate.clone(),
        object,
        graph_name(&q.graph_name),
    )
}

/// Instantiates an `INSERT` template; `None` when a variable is unbound or a term lands where
/// RDF does not allow it (the spec says: skip that triple).
fn fill(
    t: &QuadPattern,
    get: &impl Fn(&oxrdf::Variable) -> Option<Term>,
    fresh: &impl Fn(&BlankNode) -> BlankNode,
) -> Option<Quad> {
    let term = |p: &TermPattern| -> Option<Term> {
        Some(match p {
            TermPattern::NamedNode(n) => n.clone().into(),
            TermPattern::BlankNode(b) => fresh(b).into(),
            TermPattern::Literal(l) => l.clone().into(),
            TermPattern::Variable(v) => get(v)?,
            // RDF 1.2 triple terms (the syntax exists since rudof enables `rdf-12`) are not
            // events ledgraph can log.
            _ => return None,
        })
    };
    Some(Quad::new(
        subject(term(&t.subject)?)?,
        predicate(&t.predicate, get)?,
        term(&t.object)?,
        graph(&t.graph_name, get)?,
    ))
}

/// Instantiates a `DELETE` template (no blank nodes there).
fn fill_ground(
    t: &GroundQuadPattern,
    get: &impl Fn(&oxrdf::Variable) -> Option<Term>,
) -> Option<Quad> {
    let term = |p: &GroundTermPattern| -> Option<Term> {
        Some(match p {
            GroundTermPattern::NamedNode(n) => n.clone().into(),
            GroundTermPattern::Literal(l) => l.clone().into(),
            GroundTermPattern::Variable(v) => get(v)?,
            _ => return None,
        })
    };
    Some(Quad::new(
        subject(term(&t.subject)?)?,
        predicate(&t.predicate, get)?,
        term(&t.object)?,
        graph(&t.graph_name, get)?,
    ))
}

fn subject(t: Term) -> Option<NamedOrBlankNode> {
    match t {
        Term::NamedNode(n) => Some(n.into()),
        Term::BlankNode(b) => Some(b.into()),
        _ => None,
    }
}

fn predicate(
    p: &NamedNodePattern,
    get: &impl Fn(&oxrdf::Variable) -> Option<Term>,
) -> Option<NamedNode> {
    match p {
        NamedNodePattern::NamedNode(n) => Some(n.clone()),
        NamedNodePattern::Variable(v) => match get(v)? {
            Term::NamedNode(n) => Some(n),
            _ => None,
        },
    }
}

fn graph(
    g: &GraphNamePattern,
    get: &impl Fn(&oxrdf::Variable) -> Option<Term>,
) -> Option<GraphName> {
    match g {
        GraphNamePattern::NamedNode(n) => Some(GraphName::NamedNode(n.clone())),
        GraphNamePattern::DefaultGraph => Some(GraphName::DefaultGraph),
        GraphNamePattern::Variable(v) => match get(v)? {
            Term::NamedNode(n) => Some(n.into()),
            Term::BlankNode(b) => Some(b.into()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_position_is_taken_from_the_parser_message() {
        let UpdateError::Syntax { line, column, .. } =
            syntax_error("error at 3:14: expected one of \"{\"")
        else {
            panic!("not a syntax error")
        };
        assert_eq!((line, column), (Some(3), Some(14)));
        let UpdateError::Syntax { line, column, .. } = syntax_error("something else") else {
            panic!("not a syntax error")
        };
        assert_eq!((line, column), (None, None));
    }
}
