//! What the shapes read: which predicates their paths follow (forwards and backwards), how
//! many hops from a focus node they can look, and which nodes they target explicitly.
//!
//! Computed once per load from the shapes graphs, so that building the validation context of
//! a batch ([`super::context`]) follows only edges a shape can reach and never scans the store.
//! The bound is conservative (longest path × nesting depth, plus one hop for `sh:class`), and
//! capped at [`CONTEXT_HOPS_MAX`]: shapes with unbounded paths (`sh:zeroOrMorePath`) or
//! recursive references see their context up to that many hops only.

use std::collections::{HashMap, HashSet};

use oxrdf::vocab::rdf;
use oxrdf::{Graph, NamedNode, NamedNodeRef, NamedOrBlankNodeRef, Term, TermRef};

/// The most hops from a focus node the context of a batch reaches.
pub const CONTEXT_HOPS_MAX: usize = 8;

const SH: &str = "http://www.w3.org/ns/shacl#";

fn sh(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{SH}{local}"))
}

/// The `lg:Event` class: shapes targeting it validate the events of a batch as nodes.
pub const LG_EVENT: &str = "https://ledgraph.dev/ns#Event";

/// What validating a batch needs to read, derived from the shapes.
#[derive(Debug, Clone, Default)]
pub struct ContextPlan {
    /// Predicates some path follows forwards.
    pub forward: HashSet<NamedNode>,
    /// Predicates some path follows backwards (`sh:inversePath`), and `sh:targetObjectsOf`.
    pub backward: HashSet<NamedNode>,
    /// How many hops from a focus node the shapes can look.
    pub hops: usize,
    /// `sh:targetNode` values: always validated, whatever the batch touches.
    pub target_nodes: Vec<Term>,
    /// Whether some shape targets `lg:Event`, so each event of a batch is described as a node.
    pub describes_events: bool,
}

impl ContextPlan {
    /// The plan for the union of `graphs`.
    pub fn of(graphs: &[&Graph]) -> ContextPlan {
        let mut plan = ContextPlan::default();
        let mut path_len_max = 0usize;
        let mut nesting_max = 0usize;
        for graph in graphs {
            let walker = PathWalker { graph };
            for t in graph.triples_for_predicate(&sh("path")) {
                let len = walker.walk(t.object, false, &mut plan, 0);
                path_len_max = path_len_max.max(len);
            }
            for t in graph.triples_for_predicate(&sh("targetObjectsOf")) {
                if let TermRef::NamedNode(p) = t.object {
                    plan.backward.insert(p.into_owned());
                }
            }
            for t in graph.triples_for_predicate(&sh("targetNode")) {
                plan.target_nodes.push(t.object.into_owned());
            }
            for t in graph.triples_for_predicate(&sh("targetClass")) {
                if matches!(t.object, TermRef::NamedNode(n) if n.as_str() == LG_EVENT) {
                    plan.describes_events = true;
                }
            }
            nesting_max = nesting_max.max(nesting(graph));
        }
        plan.target_nodes.sort_by_key(|t| t.to_string());
        plan.target_nodes.dedup();
        // One more hop for sh:class (the value node's rdf:type) and the focus node itself.
        let hops = path_len_max
            .saturating_mul(nesting_max + 1)
            .saturating_add(1);
        plan.hops = hops.min(CONTEXT_HOPS_MAX);
        plan
    }
}

struct PathWalker<'a> {
    graph: &'a Graph,
}

impl PathWalker<'_> {
    /// Records the predicates of the path at `node` and returns its longest length in hops.
    fn walk(
        &self,
        node: TermRef<'_>,
        inverse: bool,
        plan: &mut ContextPlan,
        depth: usize,
    ) -> usize {
        if depth > 64 {
            return CONTEXT_HOPS_MAX;
        }
        let subject = match node {
            TermRef::NamedNode(p) => {
                if inverse {
                    plan.backward.insert(p.into_owned());
                } else {
                    plan.forward.insert(p.into_owned());
                }
                return 1;
            }
            TermRef::BlankNode(b) => NamedOrBlankNodeRef::BlankNode(b),
            _ => return 0,
        };
        let object = |p: &NamedNode| self.graph.object_for_subject_predicate(subject, p);
        if let Some(inner) = object(&sh("inversePath")) {
            return self.walk(inner, !inverse, plan, depth + 1);
        }
        if let Some(list) = object(&sh("alternativePath")) {
            let members = self.list(list);
            return members
                .into_iter()
                .map(|m| self.walk(m, inverse, plan, depth + 1))
                .max()
                .unwrap_or(0);
        }
        for unbounded in ["zeroOrMorePath", "oneOrMorePath"] {
            if let Some(inner) = object(&sh(unbounded)) {
                self.walk(inner, inverse, plan, depth + 1);
                return CONTEXT_HOPS_MAX;
            }
        }
        if let Some(inner) = object(&sh("zeroOrOnePath")) {
            return self.walk(inner, inverse, plan, depth + 1);
        }
        if self
            .graph
            .object_for_subject_predicate(subject, rdf::FIRST)
            .is_some()
        {
            let members = self.list(node);
            return members
                .into_iter()
                .map(|m| self.walk(m, inverse, plan, depth + 1))
                .fold(0usize, usize::saturating_add);
        }
        0
    }

    fn list<'b>(&'b self, mut node: TermRef<'b>) -> Vec<TermRef<'b>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        while let TermRef::BlankNode(b) = node {
            if !seen.insert(b) {
                break;
            }
            let s = NamedOrBlankNodeRef::BlankNode(b);
            if let Some(first) = self.graph.object_for_subject_predicate(s, rdf::FIRST) {
                out.push(first);
            }
            match self.graph.object_for_subject_predicate(s, rdf::REST) {
                Some(rest) => node = rest,
                None => break,
            }
        }
        out
    }
}

/// The longest chain of shape references (`sh:property`, `sh:node`, `sh:not`,
/// `sh:qualifiedValueShape`, members of `sh:and`/`sh:or`/`sh:xone`); a cycle counts as
/// [`CONTEXT_HOPS_MAX`].
fn nesting(graph: &Graph) -> usize {
    let direct: Vec<NamedNode> = ["property", "node", "not", "qualifiedValueShape"]
        .iter()
        .map(|l| sh(l))
        .collect();
    let lists: Vec<NamedNode> = ["and", "or", "xone"].iter().map(|l| sh(l)).collect();
    let walker = PathWalker { graph };
    let mut edges: HashMap<TermRef<'_>, HashSet<TermRef<'_>>> = HashMap::new();
    for p in &direct {
        for t in graph.triples_for_predicate(p) {
            edges.entry(t.subject.into()).or_default().insert(t.object);
        }
    }
    for p in &lists {
        for t in graph.triples_for_predicate(p) {
            for member in walker.list(t.object) {
                edges.entry(t.subject.into()).or_default().insert(member);
            }
        }
    }
    let mut memo: HashMap<TermRef<'_>, usize> = HashMap::new();
    let mut longest = 0;
    let starts: Vec<TermRef<'_>> = edges.keys().copied().collect();
    for start in starts {
        let mut on_path = HashSet::new();
        longest = longest.max(depth_from(start, &edges, &mut memo, &mut on_path));
        if longest >= CONTEXT_HOPS_MAX {
            return CONTEXT_HOPS_MAX;
        }
    }
    longest
}

fn depth_from<'a>(
    node: TermRef<'a>,
    edges: &HashMap<TermRef<'a>, HashSet<TermRef<'a>>>,
    memo: &mut HashMap<TermRef<'a>, usize>,
    on_path: &mut HashSet<TermRef<'a>>,
) -> usize {
    if let Some(&d) = memo.get(&node) {
        return d;
    }
    if !on_path.insert(node) || on_path.len() > CONTEXT_HOPS_MAX {
        return CONTEXT_HOPS_MAX;
    }
    let d = match edges.get(&node) {
        None => 0,
        Some(next) => next
            .iter()
            .map(|n| 1 + depth_from(*n, edges, memo, on_path))
            .max()
            .unwrap_or(0)
            .min(CONTEXT_HOPS_MAX),
    };
    on_path.remove(&node);
    memo.insert(node, d);
    d
}

/// `rdf:type`, which the context always follows one hop (for `sh:class` and `sh:targetClass`).
pub const RDF_TYPE: NamedNodeRef<'static> = rdf::TYPE;
