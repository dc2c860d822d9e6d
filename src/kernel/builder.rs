//! Building a [`Program`] from terms written as strings: for hand-built programs in tests and
//! benches, and for any compiler that wants the id layout done for it.
//!
//! The builder takes the classes (with their subclass edges) up front, because classes must be
//! ids `0..class_count`; every other term is interned on first use. It does no checking of its
//! own beyond what [`Program::view`] does on the result.

use std::collections::{BTreeMap, HashMap};

use super::program::{
    ActionTemplate, Dispatch, Guard, GuardKind, NO_TERM, PROGRAM_ABI_VERSION, Program,
    ProgramHeader, Rule, TermId, WarmEntry,
};

/// A guard before interning: the operands as terms where they are terms.
#[derive(Debug, Clone)]
pub enum GuardSpec {
    Datatype(String),
    MinInclusive(f64),
    MinExclusive(f64),
    MaxInclusive(f64),
    MaxExclusive(f64),
    MinLength(u32),
    MaxLength(u32),
    In(Vec<String>),
    NotIn(Vec<String>),
    HasValue(String),
    /// A mask of [`super::program::node_kind`] bits.
    NodeKind(u32),
    Class(String),
    /// The regex and its flags, as N-Triples literals.
    Pattern(String, Option<String>),
}

/// An action before interning: each slot is `"?s"`, `"?o"` or a term.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub alert: bool,
    pub s: String,
    pub p: String,
    pub o: String,
}

/// Interns terms and collects guards and rules per predicate.
#[derive(Debug, Default)]
pub struct Builder {
    terms: Vec<String>,
    ids: HashMap<String, TermId>,
    class_count: u32,
    /// Direct superclasses by class id.
    supers: Vec<Vec<TermId>>,
    /// Per predicate id: (admission guards, rules with their guards and actions).
    by_predicate: BTreeMap<TermId, Entry>,
    rdf_type: TermId,
}

/// A guard record with the spec its set and warm operands are resolved from.
type GuardEntry = (Guard, GuardSpec);

#[derive(Debug, Default)]
struct Entry {
    guards: Vec<GuardEntry>,
    rules: Vec<(Rule, Vec<GuardEntry>, Vec<ActionSpec>)>,
}

const RDF_TYPE: &str = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>";

impl Builder {
    /// `classes` become ids `0..classes.len()`; `subclass_of` holds (sub, super) pairs.
    pub fn new(classes: &[&str], subclass_of: &[(&str, &str)]) -> Builder {
        let mut b = Builder::default();
        for c in classes {
            b.intern(c);
        }
        b.class_count = b.terms.len() as u32;
        b.supers = vec![Vec::new(); b.class_count as usize];
        for (sub, sup) in subclass_of {
            let (sub, sup) = (b.intern(sub), b.intern(sup));
            if let Some(s) = b.supers.get_mut(sub as usize) {
                s.push(sup);
            }
        }
        b.rdf_type = b.intern(RDF_TYPE);
        b
    }

    /// The id of `term` (N-Triples syntax), interning it if new.
    pub fn intern(&mut self, term: &str) -> TermId {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        let id = self.terms.len() as TermId;
        self.terms.push(term.to_owned());
        self.ids.insert(term.to_owned(), id);
        id
    }

    pub fn id(&self, term: &str) -> Option<TermId> {
        self.ids.get(term).copied()
    }

    /// An admission guard on objects of `predicate`, for subjects of `subject_class` (or all),
    /// reported as `name`.
    pub fn guard(
        &mut self,
        predicate: &str,
        subject_class: Option<&str>,
        name: &str,
        spec: GuardSpec,
    ) {
        let p = self.intern(predicate);
        let g = self.guard_record(subject_class, name, &spec);
        self.by_predicate
            .entry(p)
            .or_default()
            .guards
            .push((g, spec));
    }

    /// A rule triggered by `predicate` (on `op`), with object guards and actions.
    pub fn rule(
        &mut self,
        name: &str,
        predicate: &str,
        subject_class: Option<&str>,
        guards: Vec<GuardSpec>,
        actions: Vec<ActionSpec>,
    ) {
        let p = self.intern(predicate);
        let rule = Rule {
            name: self.intern(name),
            subject_class: subject_class.map_or(NO_TERM, |c| self.intern(c)),
            guard_start: 0,
            guard_len: 0,
            action_start: 0,
            action_len: 0,
            path: if guards.iter().any(|g| matches!(g, GuardSpec::Pattern(..))) {
                Rule::WARM
            } else {
                Rule::HOT
            },
            op: 0,
        };
        let guards = guards
            .into_iter()
            .map(|spec| (self.guard_record(None, name, &spec), spec))
            .collect();
        for a in &actions {
            for t in [&a.s, &a.p, &a.o] {
                if t != "?s" && t != "?o" {
                    self.intern(t);
                }
            }
        }
        self.by_predicate
            .entry(p)
            .or_default()
            .rules
            .push((rule, guards, actions));
    }

    fn guard_record(&mut self, subject_class: Option<&str>, name: &str, spec: &GuardSpec) -> Guard {
        let mut g = Guard {
            kind: 0,
            _pad: [0; 3],
            subject_class: subject_class.map_or(NO_TERM, |c| self.intern(c)),
            a: 0,
            b: 0,
            value: 0.0,
            name: self.intern(name),
            _reserved: 0,
        };
        match spec {
            GuardSpec::Datatype(t) => (g.kind, g.a) = (GuardKind::DATATYPE, self.intern(t)),
            GuardSpec::MinInclusive(v) => (g.kind, g.value) = (GuardKind::MIN_INCLUSIVE, *v),
            GuardSpec::MinExclusive(v) => (g.kind, g.value) = (GuardKind::MIN_EXCLUSIVE, *v),
            GuardSpec::MaxInclusive(v) => (g.kind, g.value) = (GuardKind::MAX_INCLUSIVE, *v),
            GuardSpec::MaxExclusive(v) => (g.kind, g.value) = (GuardKind::MAX_EXCLUSIVE, *v),
            GuardSpec::MinLength(n) => (g.kind, g.a) = (GuardKind::MIN_LENGTH, *n),
            GuardSpec::MaxLength(n) => (g.kind, g.a) = (GuardKind::MAX_LENGTH, *n),
            GuardSpec::In(terms) | GuardSpec::NotIn(terms) => {
                g.kind = if matches!(spec, GuardSpec::In(_)) {
                    GuardKind::IN
                } else {
                    GuardKind::NOT_IN
                };
                for t in terms {
                    self.intern(t);
                }
            }
            GuardSpec::HasValue(t) => (g.kind, g.a) = (GuardKind::HAS_VALUE, self.intern(t)),
            GuardSpec::NodeKind(mask) => (g.kind, g.a) = (GuardKind::NODE_KIND, *mask),
            GuardSpec::Class(c) => (g.kind, g.a) = (GuardKind::CLASS, self.intern(c)),
            GuardSpec::Pattern(p, f) => {
                g.kind = GuardKind::PATTERN;
                self.intern(p);
                if let Some(f) = f {
                    self.intern(f);
                }
            }
        }
        g
    }

    /// Lays the tables out. Set and warm operands are resolved here, once every term is known.
    pub fn build(self) -> Program {
        let mut p = Program::default();
        let words = self.class_count.div_ceil(64) as usize;
        p.class_closure = vec![0; self.class_count as usize * words];
        for c in 0..self.class_count as usize {
            // Depth-first over superclasses; a cycle just stops at classes already set.
            let mut stack = vec![c as TermId];
            while let Some(x) = stack.pop() {
                let bit = &mut p.class_closure[c * words + x as usize / 64];
                if *bit & (1 << (x % 64)) != 0 {
                    continue;
                }
                *bit |= 1 << (x % 64);
                stack.extend(self.supers.get(x as usize).into_iter().flatten());
            }
        }
        let predicates = self
            .by_predicate
            .keys()
            .next_back()
            .map_or(0, |&k| k as usize + 1);
        p.dispatch = vec![Dispatch::default(); predicates];
        let mut actions_max = 0u32;
        for (&pred, entry) in &self.by_predicate {
            let guard_start = p.guards.len() as u32;
            for (g, spec) in &entry.guards {
                let g = self.resolve(&mut p, *g, spec);
                p.guards.push(g);
            }
            // Rule guards after the predicate's admission guards, so ranges stay disjoint.
            let mut rules = Vec::new();
            let mut actions_here = 0;
            for (rule, guards, actions) in &entry.rules {
                let mut rule = *rule;
                rule.guard_start = p.guards.len() as u32;
                rule.guard_len = guards.len() as u32;
                for (g, spec) in guards {
                    let g = self.resolve(&mut p, *g, spec);
                    p.guards.push(g);
                }
                rule.action_start = p.actions.len() as u32;
                rule.action_len = actions.len() as u32;
                actions_here += rule.action_len;
                for a in actions {
                    p.actions.push(self.action(a));
                }
                rules.push(rule);
            }
            p.dispatch[pred as usize] = Dispatch {
                guard_start,
                guard_len: entry.guards.len() as u32,
                rule_start: p.rules.len() as u32,
                rule_len: rules.len() as u32,
            };
            p.rules.extend(rules);
            actions_max = actions_max.max(actions_here);
        }
        p.term_offsets.push(0);
        for t in &self.terms {
            p.term_bytes.extend_from_slice(t.as_bytes());
            p.term_offsets.push(p.term_bytes.len() as u32);
        }
        p.header = ProgramHeader {
            abi_version: PROGRAM_ABI_VERSION,
            term_count: self.terms.len() as u32,
            class_count: self.class_count,
            class_words: words as u32,
            rdf_type: self.rdf_type,
            actions_per_observation_max: actions_max,
        };
        p
    }

    fn resolve(&self, p: &mut Program, mut g: Guard, spec: &GuardSpec) -> Guard {
        match spec {
            GuardSpec::In(terms) | GuardSpec::NotIn(terms) => {
                let mut ids: Vec<TermId> = terms.iter().filter_map(|t| self.id(t)).collect();
                ids.sort_unstable();
                ids.dedup();
                g.a = p.sets.len() as u32;
                g.b = ids.len() as u32;
                p.sets.extend(ids);
            }
            GuardSpec::Pattern(pat, flags) => {
                g.a = p.warm.len() as u32;
                p.warm.push(WarmEntry {
                    pattern: self.id(pat).unwrap_or(NO_TERM),
                    flags: flags.as_deref().and_then(|f| self.id(f)).unwrap_or(NO_TERM),
                });
            }
            _ => {}
        }
        g
    }

    fn action(&self, a: &ActionSpec) -> ActionTemplate {
        use super::program::slot;
        let s = |t: &str| match t {
            "?s" => (slot::SUBJECT, 0),
            "?o" => (slot::OBJECT, 0),
            t => (slot::CONST, self.id(t).unwrap_or(NO_TERM)),
        };
        let ((s_from, s_id), (p_from, p_id), (o_from, o_id)) = (s(&a.s), s(&a.p), s(&a.o));
        ActionTemplate {
            kind: if a.alert {
                ActionTemplate::ALERT
            } else {
                ActionTemplate::EMIT
            },
            s_from,
            p_from,
            o_from,
            s: s_id,
            p: p_id,
            o: o_id,
        }
    }
}
