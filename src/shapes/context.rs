//! The validation context of a batch: the focus nodes it can affect and the triples they need,
//! as the default graph will be *after* the batch, read from the store and patched in memory.
//!
//! Cost follows the batch, not the store: every read is an index lookup on a node the batch
//! names or one reached from it along a predicate some shape path follows, for at most
//! [`ContextPlan::hops`] hops. What is deliberately not read: incoming `rdf:type` edges (a
//! class would drag in all its instances) and edges along predicates no shape follows. A change
//! to `rdfs:subClassOf` is validated for the nodes it names, not for every instance of the
//! classes involved (see `docs/shapes.md`).
//!
//! Affected focus nodes: the subjects and objects of the batch's default-graph triples, the
//! nodes that reach a changed node (a subject, or the object of an inverse-path predicate)
//! within `hops - 1` steps along shape predicates (their shapes may read the changed triples),
//! and every `sh:targetNode`.

use std::collections::{HashMap, HashSet, VecDeque};

use oxigraph::store::Store;
use oxrdf::vocab::rdfs;
use oxrdf::{
    GraphNameRef, NamedNode, NamedOrBlankNode, NamedOrBlankNodeRef, Quad, Term, TermRef, Triple,
};

use super::ShapesError;
use super::analysis::ContextPlan;
use crate::event::Op;

/// Most triples one batch's validation context may hold (413 above): a batch whose context is
/// larger touches too much of the graph at once to be validated here.
pub const CONTEXT_TRIPLES_MAX: usize = 2_000_000;

/// Most incoming edges of one node read in a single scan when looking for edges along several
/// predicates. One scan replaces a seek per predicate (the larger part of building a context);
/// past this many edges — a class with its instances, a common literal — the scan stops and
/// one seek per predicate reads only what is needed.
const INCOMING_SCAN_EDGES_MAX: usize = 64;

/// The default graph after a batch, around the nodes the batch affects.
#[derive(Debug, Default)]
pub struct Context {
    pub triples: HashSet<Triple>,
    /// Focus nodes whose validation results count.
    pub candidates: HashSet<Term>,
}

/// The batch's net effect on the default graph (the last op on a triple wins).
struct Delta {
    removed: HashSet<Triple>,
    added_by_subject: HashMap<NamedOrBlankNode, Vec<Triple>>,
    added_by_object: HashMap<Term, Vec<Triple>>,
}

impl Delta {
    /// The store keeps some literals by value (`"356.0"^^xsd:decimal` is read back as another
    /// lexical form of the same number), so the batch's triples are matched against what the
    /// store holds: a removal hides the stored form, and an addition the store already holds
    /// (in any form) is not added twice.
    fn of(store: &Store, changes: &[(Op, Quad)]) -> Result<Delta, ShapesError> {
        let mut net: HashMap<Triple, Op> = HashMap::new();
        for (op, quad) in changes {
            if quad.graph_name.is_default_graph() {
                net.insert(
                    Triple::new(
                        quad.subject.clone(),
                        quad.predicate.clone(),
                        quad.object.clone(),
                    ),
                    *op,
                );
            }
        }
        let mut delta = Delta {
            removed: HashSet::new(),
            added_by_subject: HashMap::new(),
            added_by_object: HashMap::new(),
        };
        for (t, op) in net {
            let stored = stored_forms(store, &t)?;
            match op {
                Op::Remove => {
                    delta.removed.extend(stored);
                    delta.removed.insert(t);
                }
                Op::Add if !stored.is_empty() => {}
                Op::Add => {
                    delta
                        .added_by_object
                        .entry(t.object.clone())
                        .or_default()
                        .push(t.clone());
                    delta
                        .added_by_subject
                        .entry(t.subject.clone())
                        .or_default()
                        .push(t);
                }
            }
        }
        Ok(delta)
    }
}

/// The triples of the default graph equal in value to `t`, as the store gives them back.
fn stored_forms(store: &Store, t: &Triple) -> Result<Vec<Triple>, ShapesError> {
    store
        .quads_for_pattern(
            Some(t.subject.as_ref()),
            Some(t.predicate.as_ref()),
            Some(t.object.as_ref()),
            Some(GraphNameRef::DefaultGraph),
        )
        .map(|q| {
            q.map(|q| Triple::new(q.subject, q.predicate, q.object))
                .map_err(|e| ShapesError::Store(e.to_string()))
        })
        .collect()
}

struct View<'a> {
    store: &'a Store,
    delta: Delta,
}

impl View<'_> {
    fn lookup(
        &self,
        s: Option<NamedOrBlankNodeRef<'_>>,
        p: Option<&NamedNode>,
        o: Option<TermRef<'_>>,
    ) -> Result<Vec<Triple>, ShapesError> {
        let mut out = Vec::new();
        for quad in self.store.quads_for_pattern(
            s,
            p.map(NamedNode::as_ref),
            o,
            Some(GraphNameRef::DefaultGraph),
        ) {
            let quad = quad.map_err(|e| ShapesError::Store(e.to_string()))?;
            let t = Triple::new(quad.subject, quad.predicate, quad.object);
            if !self.delta.removed.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Every triple with subject `n` after the batch.
    fn outgoing(&self, n: &NamedOrBlankNode) -> Result<Vec<Triple>, ShapesError> {
        let mut out = self.lookup(Some(n.as_ref()), None, None)?;
        if let Some(added) = self.delta.added_by_subject.get(n) {
            out.extend(added.iter().cloned());
        }
        Ok(out)
    }

    /// Triples `?x p n` for every `p` in `predicates`, after the batch.
    fn incoming(
        &self,
        n: &Term,
        predicates: &HashSet<NamedNode>,
    ) -> Result<Vec<Triple>, ShapesError> {
        let mut out = match self.incoming_by_scan(n, predicates)? {
            Some(found) => found,
            None => {
                let mut found = Vec::new();
                for p in predicates {
                    found.extend(self.lookup(None, Some(p), Some(n.as_ref()))?);
                }
                found
            }
        };
        if let Some(added) = self.delta.added_by_object.get(n) {
            out.extend(
                added
                    .iter()
                    .filter(|t| predicates.contains(&t.predicate))
                    .cloned(),
            );
        }
        Ok(out)
    }

    /// The stored part of [`incoming`](Self::incoming) from one scan of `n`'s incoming edges;
    /// `None` when there are too many (or only one predicate, where a seek is best anyway).
    fn incoming_by_scan(
        &self,
        n: &Term,
        predicates: &HashSet<NamedNode>,
    ) -> Result<Option<Vec<Triple>>, ShapesError> {
        if predicates.len() < 2 {
            return Ok(None);
        }
        let mut out = Vec::new();
        let scan = self.store.quads_for_pattern(
            None,
            None,
            Some(n.as_ref()),
            Some(GraphNameRef::DefaultGraph),
        );
        for (read, quad) in scan.enumerate() {
            if read == INCOMING_SCAN_EDGES_MAX {
                return Ok(None);
            }
            let quad = quad.map_err(|e| ShapesError::Store(e.to_string()))?;
            if predicates.contains(&quad.predicate) {
                let t = Triple::new(quad.subject, quad.predicate, quad.object);
                if !self.delta.removed.contains(&t) {
                    out.push(t);
                }
            }
        }
        Ok(Some(out))
    }
}

fn as_node(term: &Term) -> Option<NamedOrBlankNode> {
    match term {
        Term::NamedNode(n) => Some(NamedOrBlankNode::NamedNode(n.clone())),
        Term::BlankNode(b) => Some(NamedOrBlankNode::BlankNode(b.clone())),
        _ => None,
    }
}

/// Builds the context of `changes` against `store` for the shapes summarized by `plan`.
pub fn build(
    store: &Store,
    changes: &[(Op, Quad)],
    plan: &ContextPlan,
) -> Result<Context, ShapesError> {
    let view = View {
        store,
        delta: Delta::of(store, changes)?,
    };
    let mut ctx = Context::default();
    // Nodes the batch names are focus nodes. Those whose own triples changed — subjects, and
    // objects of inverse-path predicates — also make the nodes that read them focus nodes;
    // an object alone does not (a new sensor monitoring a pump leaves the pump's other
    // monitors as they were).
    let mut changed: Vec<Term> = Vec::new();
    for (_, quad) in changes {
        if quad.graph_name.is_default_graph() {
            changed.push(quad.subject.clone().into());
            if plan.backward.contains(&quad.predicate) {
                changed.push(quad.object.clone());
            } else {
                ctx.candidates.insert(quad.object.clone());
            }
        }
    }
    ctx.candidates.extend(plan.target_nodes.iter().cloned());
    // Nodes whose shapes may read what the batch changed: backwards along forward predicates,
    // forwards along inverse ones.
    let mut seen: HashSet<Term> = changed.iter().cloned().collect();
    let mut queue: VecDeque<(Term, usize)> = changed.into_iter().map(|t| (t, 0)).collect();
    while let Some((node, depth)) = queue.pop_front() {
        ctx.candidates.insert(node.clone());
        if depth + 1 >= plan.hops {
            continue;
        }
        let mut next = Vec::new();
        for t in view.incoming(&node, &plan.forward)? {
            next.push(Term::from(t.subject));
        }
        if let Some(n) = as_node(&node) {
            for t in view.outgoing(&n)? {
                if plan.backward.contains(&t.predicate) {
                    next.push(t.object);
                }
            }
        }
        for n in next {
            if seen.insert(n.clone()) {
                queue.push_back((n, depth + 1));
            }
        }
        check_size(seen.len())?;
    }
    // The triples the candidates' shapes can read: all their outgoing triples, incoming ones
    // along inverse paths, and the same for nodes reached along shape predicates.
    let mut visited: HashSet<Term> = HashSet::new();
    let mut queue: VecDeque<(Term, usize)> =
        ctx.candidates.iter().map(|t| (t.clone(), 0)).collect();
    while let Some((node, depth)) = queue.pop_front() {
        if !visited.insert(node.clone()) {
            continue;
        }
        let mut next = Vec::new();
        if let Some(n) = as_node(&node) {
            for t in view.outgoing(&n)? {
                if plan.forward.contains(&t.predicate) || t.predicate == super::analysis::RDF_TYPE {
                    next.push(t.object.clone());
                }
                ctx.triples.insert(t);
            }
        }
        for t in view.incoming(&node, &plan.backward)? {
            next.push(Term::from(t.subject.clone()));
            ctx.triples.insert(t);
        }
        check_size(ctx.triples.len())?;
        if depth < plan.hops {
            queue.extend(next.into_iter().map(|n| (n, depth + 1)));
        }
    }
    // The class hierarchy, for sh:class and sh:targetClass through subclasses.
    for t in view.lookup(None, Some(&rdfs::SUB_CLASS_OF.into_owned()), None)? {
        ctx.triples.insert(t);
    }
    for t in view.delta.added_by_subject.values().flatten() {
        if t.predicate == rdfs::SUB_CLASS_OF {
            ctx.triples.insert(t.clone());
        }
    }
    check_size(ctx.triples.len())?;
    Ok(ctx)
}

fn check_size(n: usize) -> Result<(), ShapesError> {
    if n > CONTEXT_TRIPLES_MAX {
        return Err(ShapesError::Limit {
            path: "batch".into(),
            reason: format!(
                "validating this batch would read over {CONTEXT_TRIPLES_MAX} triples; split it"
            ),
        });
    }
    Ok(())
}
