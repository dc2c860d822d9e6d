//! Kernel admission of a batch before it is appended: the active descriptor's guards, with the
//! classes the guards ask about read from the store.
//!
//! The batch is interned with a fork of the descriptor's interner (no ids leak between
//! batches), prefixed by one `rdf:type` observation per class the store already gives a node
//! the guards look at (subjects of guarded predicates, node objects), and run through
//! [`super::step`] on fresh [`State`]. The batch's own type changes come after the prefix,
//! so guards see the classes as they will be after the batch — what SHACL validates. Regexes
//! (`sh:pattern`) deferred by the kernel run here, on the warm path.
//!
//! Quads in named graphs are not checked, as with the SHACL shapes (`docs/shapes.md`).

use std::collections::BTreeSet;

use oxigraph::store::Store;
use oxrdf::vocab::rdf;
use oxrdf::{GraphNameRef, NamedOrBlankNodeRef, Quad, Term, TermRef};

use super::intern::InternError;
use super::program::{GuardKind, NO_TERM, Observation, node_kind};
use super::registry::Active;
use super::{Actions, State, step};
use crate::event::Op;

/// One guard an event of the batch fails.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelFinding {
    /// Index of the event in the batch.
    pub event: usize,
    /// Index of the guard in the program.
    pub guard: u32,
    /// Its [`GuardKind`].
    pub kind: u8,
    /// The shape or rule the guard was compiled from (what the report names).
    pub source: Option<Term>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    #[error(transparent)]
    Intern(#[from] InternError),
    #[error("store: {0}")]
    Store(String),
}

/// The guards `changes` fail under `active`, in event order.
pub fn check(
    active: &Active,
    store: &Store,
    changes: &[(Op, Quad)],
) -> Result<Vec<KernelFinding>, AdmitError> {
    let view = active.view();
    let mut interner = active.interner.fork();
    let mut events = Vec::with_capacity(changes.len());
    let mut batch = Vec::with_capacity(changes.len());
    for (i, (op, q)) in changes.iter().enumerate() {
        if !q.graph_name.is_default_graph() {
            continue;
        }
        let s: TermRef<'_> = q.subject.as_ref().into();
        batch.push(interner.observe(*op, s, q.predicate.as_ref().into(), q.object.as_ref())?);
        events.push(i);
    }
    let prefix = stored_classes(active, &interner, store, &batch)?;
    let skip = prefix.len();
    let mut all = prefix;
    all.extend_from_slice(&batch);
    let mut types = State::new(&view);
    types.ensure_nodes(interner.len());
    let mut out = Actions::for_batch(&view, all.len());
    step(&view, &mut types, &all, &mut out);
    let parts = view.parts();
    let mut findings = Vec::new();
    let mut found = |obs: u32, guard: u32| {
        let Some(&event) = (obs as usize).checked_sub(skip).and_then(|i| events.get(i)) else {
            return;
        };
        let g = &parts.guards[guard as usize];
        let source = interner.term(g.name).cloned();
        let message = active.guard_messages.get(guard as usize).cloned().flatten();
        let message = message.unwrap_or_else(|| {
            let name = source.as_ref().map(Term::to_string).unwrap_or_default();
            format!("violates {name} ({})", kind_name(g.kind))
        });
        findings.push(KernelFinding {
            event,
            guard,
            kind: g.kind,
            source,
            message,
        });
    };
    for v in &out.violations {
        found(v.obs, v.guard);
    }
    for d in out.deferred.iter().filter(|d| d.rule == u32::MAX) {
        let g = &parts.guards[d.guard as usize];
        let o = &all[d.obs as usize];
        if !active.warm_matches(g.a, o, &interner) {
            found(d.obs, d.guard);
        }
    }
    findings.sort_by_key(|f| (f.event, f.guard));
    Ok(findings)
}

/// `rdf:type` observations for the classes the store already gives the nodes the batch's
/// guards look at (sorted by node id: the same batch gives the same prefix).
fn stored_classes(
    active: &Active,
    interner: &super::intern::Interner,
    store: &Store,
    batch: &[Observation],
) -> Result<Vec<Observation>, AdmitError> {
    let view = active.view();
    let h = view.header();
    if h.rdf_type == NO_TERM || h.class_count == 0 {
        return Ok(Vec::new());
    }
    let mut asked = BTreeSet::new();
    for o in batch {
        let guarded = view
            .parts()
            .dispatch
            .get(o.p as usize)
            .is_some_and(|d| d.guard_len > 0);
        if guarded {
            asked.insert(o.s);
            if o.kind != node_kind::LITERAL {
                asked.insert(o.o);
            }
        }
    }
    let mut prefix = Vec::new();
    for id in asked {
        let node = match interner.term(id) {
            Some(Term::NamedNode(n)) => NamedOrBlankNodeRef::NamedNode(n.as_ref()),
            Some(Term::BlankNode(b)) => NamedOrBlankNodeRef::BlankNode(b.as_ref()),
            _ => continue,
        };
        for q in store.quads_for_pattern(
            Some(node),
            Some(rdf::TYPE),
            None,
            Some(GraphNameRef::DefaultGraph),
        ) {
            let q = q.map_err(|e| AdmitError::Store(e.to_string()))?;
            if let Some(class) = interner
                .get(q.object.as_ref())
                .filter(|&c| c < h.class_count)
            {
                prefix.push(Observation::class_assertion(id, h.rdf_type, class));
            }
        }
    }
    Ok(prefix)
}

/// The SHACL constraint component a guard kind lowers (its local name after `sh:`).
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        GuardKind::DATATYPE => "DatatypeConstraintComponent",
        GuardKind::MIN_INCLUSIVE => "MinInclusiveConstraintComponent",
        GuardKind::MIN_EXCLUSIVE => "MinExclusiveConstraintComponent",
        GuardKind::MAX_INCLUSIVE => "MaxInclusiveConstraintComponent",
        GuardKind::MAX_EXCLUSIVE => "MaxExclusiveConstraintComponent",
        GuardKind::MIN_LENGTH => "MinLengthConstraintComponent",
        GuardKind::MAX_LENGTH => "MaxLengthConstraintComponent",
        GuardKind::IN => "InConstraintComponent",
        GuardKind::HAS_VALUE => "HasValueConstraintComponent",
        GuardKind::NODE_KIND => "NodeKindConstraintComponent",
        GuardKind::CLASS => "ClassConstraintComponent",
        GuardKind::PATTERN => "PatternConstraintComponent",
        // Not SHACL: owl:disjointWith and the like, lowered by the compiler.
        GuardKind::NOT_IN => "NotInConstraintComponent",
        _ => "ConstraintComponent",
    }
}
