//! Seeded RDF events that exercise a program's admission guards: for differential tests
//! against rudof and for the admission bench, whatever descriptor is compiled.
//!
//! Each case is one subject `urn:gen:s<k>` with one triple on a guarded predicate, the
//! subject's class (often one the guards target, or a subclass of it), and an object drawn
//! near what the guards check: members of `sh:in` sets, `sh:hasValue` constants, numbers on,
//! just inside and just outside the bounds in several numeric datatypes, strings around the
//! length limits, IRIs and blank nodes, typed object nodes. Half the cases pass, roughly.

use oxrdf::vocab::{rdf, rdfs, xsd};
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};

use super::intern::parse_term;
use super::program::{Guard, GuardKind, NO_TERM, ProgramView, TermId, node_kind};

/// One generated case: the triples to publish, in order (types first, then the guarded one).
#[derive(Debug, Clone)]
pub struct Case {
    pub subject: NamedNode,
    pub quads: Vec<Quad>,
}

/// A generator over one program.
pub struct EventGen<'a> {
    view: ProgramView<'a>,
    state: u64,
    classes: Vec<NamedNode>,
    /// Predicates with admission guards, and which guards count.
    predicates: Vec<(NamedNode, Vec<Guard>)>,
    next: u64,
}

fn term(view: &ProgramView<'_>, id: TermId) -> Option<Term> {
    view.term(id).and_then(parse_term)
}

impl<'a> EventGen<'a> {
    /// `keep` decides which guards the cases aim at (by the guard's name, in N-Triples syntax).
    pub fn new(view: ProgramView<'a>, seed: u64, keep: impl Fn(&str) -> bool) -> EventGen<'a> {
        let h = view.header();
        let classes = (0..h.class_count)
            .filter_map(|c| match term(&view, c) {
                Some(Term::NamedNode(n)) => Some(n),
                _ => None,
            })
            .collect();
        let mut predicates = Vec::new();
        for (p, d) in view.parts().dispatch.iter().enumerate() {
            let guards: Vec<Guard> = view.parts().guards[d.guard_start as usize..]
                [..d.guard_len as usize]
                .iter()
                .filter(|g| view.term(g.name).is_some_and(&keep))
                .copied()
                .collect();
            if guards.is_empty() || p as u32 == h.rdf_type {
                continue;
            }
            if let Some(Term::NamedNode(n)) = term(&view, p as u32) {
                predicates.push((n, guards));
            }
        }
        EventGen {
            view,
            state: seed.max(1),
            classes,
            predicates,
            next: 0,
        }
    }

    /// Cases aimed at the program's rules instead: predicates that trigger rules, objects near
    /// the rules' object guards, subjects of the rules' subject classes.
    pub fn for_rules(view: ProgramView<'a>, seed: u64) -> EventGen<'a> {
        let mut g = EventGen::new(view, seed, |_| false);
        let parts = view.parts();
        for (p, d) in parts.dispatch.iter().enumerate() {
            let mut guards = Vec::new();
            for r in &parts.rules[d.rule_start as usize..][..d.rule_len as usize] {
                let own = &parts.guards[r.guard_start as usize..][..r.guard_len as usize];
                guards.extend(own.iter().map(|g| Guard {
                    subject_class: r.subject_class,
                    ..*g
                }));
                if own.is_empty() {
                    // No object guard: a node object (the rule is an object property's
                    // axiom or reacts to any value); keep the subject class.
                    guards.push(Guard {
                        kind: GuardKind::NODE_KIND,
                        _pad: [0; 3],
                        subject_class: r.subject_class,
                        a: (1 << node_kind::IRI) | (1 << node_kind::BLANK),
                        b: 0,
                        value: 0.0,
                        name: r.name,
                        _reserved: 0,
                    });
                }
            }
            if guards.is_empty() {
                continue;
            }
            if let Some(Term::NamedNode(n)) = term(&view, p as u32) {
                g.predicates.push((n, guards));
            }
        }
        g
    }

    /// Whether the program has any guard to aim at.
    pub fn is_empty(&self) -> bool {
        self.predicates.is_empty()
    }

    fn rand(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rand() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rand() % 100 < percent
    }

    /// A class of the program that is `class` or one of its subclasses, or any class.
    fn class_under(&mut self, class: TermId) -> Option<NamedNode> {
        let h = self.view.header();
        let words = h.class_words as usize;
        let closure = self.view.parts().class_closure;
        let subs: Vec<u32> = (0..h.class_count)
            .filter(|&c| {
                class != NO_TERM
                    && (closure[c as usize * words + class as usize / 64] >> (class % 64)) & 1 == 1
            })
            .collect();
        if subs.is_empty() || self.chance(15) {
            let i = self.below(self.classes.len());
            return self.classes.get(i).cloned();
        }
        let c = subs[self.below(subs.len())];
        match term(&self.view, c) {
            Some(Term::NamedNode(n)) => Some(n),
            _ => None,
        }
    }

    /// `rdfs:subClassOf` for every pair of the closure: what SHACL needs in the data graph to
    /// see the class hierarchy the kernel's bitsets carry.
    pub fn hierarchy(&self) -> Vec<Quad> {
        let h = self.view.header();
        let words = h.class_words as usize;
        let closure = self.view.parts().class_closure;
        let mut out = Vec::new();
        for c in 0..h.class_count {
            for d in 0..h.class_count {
                let bit = (closure[c as usize * words + d as usize / 64] >> (d % 64)) & 1;
                if c == d || bit == 0 {
                    continue;
                }
                if let (Some(Term::NamedNode(sub)), Some(Term::NamedNode(sup))) =
                    (term(&self.view, c), term(&self.view, d))
                {
                    out.push(Quad::new(
                        sub,
                        rdfs::SUB_CLASS_OF,
                        sup,
                        GraphName::DefaultGraph,
                    ));
                }
            }
        }
        out
    }

    pub fn case(&mut self) -> Option<Case> {
        if self.predicates.is_empty() {
            return None;
        }
        let k = self.next;
        self.next += 1;
        let subject = NamedNode::new_unchecked(format!("urn:gen:s{k}"));
        let pick = self.below(self.predicates.len());
        let (predicate, guards) = self.predicates[pick].clone();
        let mut quads = Vec::new();
        let target = guards
            .iter()
            .map(|g| g.subject_class)
            .find(|&c| c != NO_TERM);
        if (target.is_some() && self.chance(80)) || self.chance(20) {
            if let Some(class) = self.class_under(target.unwrap_or(NO_TERM)) {
                quads.push(Quad::new(
                    subject.clone(),
                    rdf::TYPE,
                    class,
                    GraphName::DefaultGraph,
                ));
            }
        }
        let guard = guards[self.below(guards.len())];
        let object = self.object(&guard, k, &mut quads);
        quads.push(Quad::new(
            subject.clone(),
            predicate,
            object,
            GraphName::DefaultGraph,
        ));
        Some(Case { subject, quads })
    }

    fn object(&mut self, g: &Guard, k: u64, quads: &mut Vec<Quad>) -> Term {
        let roll = self.below(10);
        if roll == 0 {
            return BlankNode::new_unchecked(format!("gen{k}")).into();
        }
        let node_only = g.kind == GuardKind::NODE_KIND && g.a & (1 << node_kind::LITERAL) == 0;
        if roll == 1 || (g.kind == GuardKind::CLASS && roll < 7) || node_only {
            let node = NamedNode::new_unchecked(format!("urn:gen:o{k}"));
            let class = if g.kind == GuardKind::CLASS {
                g.a
            } else {
                NO_TERM
            };
            if self.chance(75) {
                if let Some(c) = self.class_under(class) {
                    quads.push(Quad::new(
                        node.clone(),
                        rdf::TYPE,
                        c,
                        GraphName::DefaultGraph,
                    ));
                }
            }
            return node.into();
        }
        match g.kind {
            GuardKind::IN | GuardKind::NOT_IN if roll < 7 && g.b > 0 => {
                let set = &self.view.parts().sets[g.a as usize..][..g.b as usize];
                let id = set[self.below(set.len())];
                if let Some(t) = term(&self.view, id) {
                    return t;
                }
            }
            GuardKind::HAS_VALUE if roll < 7 => {
                if let Some(t) = term(&self.view, g.a) {
                    return t;
                }
            }
            GuardKind::MIN_INCLUSIVE
            | GuardKind::MIN_EXCLUSIVE
            | GuardKind::MAX_INCLUSIVE
            | GuardKind::MAX_EXCLUSIVE
                if roll < 8 =>
            {
                let offsets = [0.0, 1.0, -1.0, 0.5, -0.5, 10.0, -10.0];
                let v = g.value + offsets[self.below(offsets.len())];
                return self.number(v);
            }
            GuardKind::MIN_LENGTH | GuardKind::MAX_LENGTH if roll < 8 => {
                let n = (g.a as i64 + self.below(5) as i64 - 2).max(0) as usize;
                return Literal::new_simple_literal("x".repeat(n)).into();
            }
            _ => {}
        }
        match self.below(5) {
            0 => {
                let v = self.below(200) as f64 - 50.0;
                self.number(v)
            }
            1 => Literal::new_simple_literal(format!("text-{k}")).into(),
            2 => Literal::new_language_tagged_literal_unchecked(format!("t{k}"), "en").into(),
            3 => Literal::new_typed_literal(format!("{}", k % 2 == 0), xsd::BOOLEAN).into(),
            _ => Literal::new_simple_literal(format!("AB-{}", k % 1000)).into(),
        }
    }

    /// `v` in one of the numeric datatypes (integers only when `v` is whole).
    fn number(&mut self, v: f64) -> Term {
        let whole = v.fract() == 0.0 && v.abs() < 1e15;
        match self.below(4) {
            0 if whole => Literal::new_typed_literal(format!("{}", v as i64), xsd::INTEGER).into(),
            1 => Literal::new_typed_literal(decimal(v), xsd::DECIMAL).into(),
            2 => Literal::new_typed_literal(format!("{v:E}"), xsd::DOUBLE).into(),
            _ => Literal::new_typed_literal(decimal(v), xsd::DECIMAL).into(),
        }
    }
}

/// `v` as an `xsd:decimal` lexical form (always with a fraction digit).
fn decimal(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// The subject of a generated case, from a focus node rudof reports.
pub fn case_index(node: &NamedOrBlankNode) -> Option<u64> {
    match node {
        NamedOrBlankNode::NamedNode(n) => n.as_str().strip_prefix("urn:gen:s")?.parse().ok(),
        _ => None,
    }
}
