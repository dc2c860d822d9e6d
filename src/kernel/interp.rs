//! The kernel's semantics written the obvious way: hash maps of predicates to guard and rule
//! lists, hash sets of classes per node, an enum per guard. It shares no evaluation code with
//! [`super::step`], so agreeing with it is evidence; it is also the bench's baseline.
//!
//! It is built from the same [`ProgramView`] tables (the "same rules"), decoded once.

use std::collections::{HashMap, HashSet};

use super::program::{
    ActionTemplate, GuardKind, Observation, ProgramView, TermId, node_kind, slot,
};
use super::{Actions, Deferred, Emitted, Violation};

#[derive(Debug, Clone)]
enum Check {
    Datatype(TermId),
    Min(f64, bool),
    Max(f64, bool),
    MinLength(u32),
    MaxLength(u32),
    In(HashSet<TermId>),
    NotIn(HashSet<TermId>),
    HasValue(TermId),
    NodeKind(u32),
    Class(TermId),
    Pattern,
}

#[derive(Debug, Clone)]
struct IGuard {
    index: u32,
    subject_class: Option<TermId>,
    check: Check,
}

/// Where a slot of an emitted triple comes from: ([`slot`], constant).
type Slot = (u8, TermId);
/// (kind, s, p, o).
type IAction = (u32, Slot, Slot, Slot);

#[derive(Debug, Clone)]
struct IRule {
    index: u32,
    subject_class: Option<TermId>,
    op: u8,
    guards: Vec<IGuard>,
    actions: Vec<IAction>,
}

/// The decoded program plus its own node-class state.
#[derive(Debug, Clone)]
pub struct Interpreter {
    guards: HashMap<TermId, Vec<IGuard>>,
    rules: HashMap<TermId, Vec<IRule>>,
    /// Class → itself and every superclass.
    supers: HashMap<TermId, HashSet<TermId>>,
    types: HashMap<TermId, HashSet<TermId>>,
    rdf_type: Option<TermId>,
}

fn opt(id: TermId) -> Option<TermId> {
    (id != super::NO_TERM).then_some(id)
}

impl Interpreter {
    pub fn new(program: &ProgramView<'_>) -> Interpreter {
        let parts = program.parts();
        let h = program.header();
        let decode = |index: u32| {
            let g = &parts.guards[index as usize];
            let check = match g.kind {
                GuardKind::DATATYPE => Check::Datatype(g.a),
                GuardKind::MIN_INCLUSIVE => Check::Min(g.value, true),
                GuardKind::MIN_EXCLUSIVE => Check::Min(g.value, false),
                GuardKind::MAX_INCLUSIVE => Check::Max(g.value, true),
                GuardKind::MAX_EXCLUSIVE => Check::Max(g.value, false),
                GuardKind::MIN_LENGTH => Check::MinLength(g.a),
                GuardKind::MAX_LENGTH => Check::MaxLength(g.a),
                GuardKind::IN => Check::In(
                    parts.sets[g.a as usize..][..g.b as usize]
                        .iter()
                        .copied()
                        .collect(),
                ),
                GuardKind::NOT_IN => Check::NotIn(
                    parts.sets[g.a as usize..][..g.b as usize]
                        .iter()
                        .copied()
                        .collect(),
                ),
                GuardKind::HAS_VALUE => Check::HasValue(g.a),
                GuardKind::NODE_KIND => Check::NodeKind(g.a),
                GuardKind::CLASS => Check::Class(g.a),
                _ => Check::Pattern,
            };
            IGuard {
                index,
                subject_class: opt(g.subject_class),
                check,
            }
        };
        let mut guards = HashMap::new();
        let mut rules = HashMap::new();
        for (p, d) in parts.dispatch.iter().enumerate() {
            let p = p as TermId;
            if d.guard_len > 0 {
                let list = (d.guard_start..d.guard_start + d.guard_len)
                    .map(decode)
                    .collect();
                guards.insert(p, list);
            }
            let mut list = Vec::new();
            for index in d.rule_start..d.rule_start + d.rule_len {
                let r = &parts.rules[index as usize];
                let actions = parts.actions[r.action_start as usize..][..r.action_len as usize]
                    .iter()
                    .map(|a| {
                        (
                            u32::from(a.kind),
                            (a.s_from, a.s),
                            (a.p_from, a.p),
                            (a.o_from, a.o),
                        )
                    })
                    .collect();
                list.push(IRule {
                    index,
                    subject_class: opt(r.subject_class),
                    op: r.op as u8,
                    guards: (r.guard_start..r.guard_start + r.guard_len)
                        .map(decode)
                        .collect(),
                    actions,
                });
            }
            if !list.is_empty() {
                rules.insert(p, list);
            }
        }
        let words = h.class_words as usize;
        let mut supers = HashMap::new();
        for c in 0..h.class_count {
            let row = &parts.class_closure[c as usize * words..][..words];
            let set: HashSet<TermId> = (0..h.class_count)
                .filter(|&x| (row[x as usize / 64] >> (x % 64)) & 1 == 1)
                .collect();
            supers.insert(c, set);
        }
        Interpreter {
            guards,
            rules,
            supers,
            types: HashMap::new(),
            rdf_type: opt(h.rdf_type).filter(|_| h.class_count > 0),
        }
    }

    fn is_instance(&self, node: TermId, class: TermId) -> bool {
        self.types.get(&node).is_some_and(|asserted| {
            asserted
                .iter()
                .any(|c| self.supers.get(c).is_some_and(|s| s.contains(&class)))
        })
    }

    /// `Some(pass)`, or `None` for a warm check the interpreter does not run either.
    fn check(&self, g: &IGuard, o: &Observation) -> Option<bool> {
        Some(match &g.check {
            Check::Datatype(dt) => o.datatype == *dt,
            Check::Min(v, inclusive) => {
                if *inclusive {
                    o.num >= *v
                } else {
                    o.num > *v
                }
            }
            Check::Max(v, inclusive) => {
                if *inclusive {
                    o.num <= *v
                } else {
                    o.num < *v
                }
            }
            Check::MinLength(n) => o.kind != node_kind::BLANK && o.len >= *n,
            Check::MaxLength(n) => o.kind != node_kind::BLANK && o.len <= *n,
            Check::In(set) => set.contains(&o.o),
            Check::NotIn(set) => !set.contains(&o.o),
            Check::HasValue(v) => o.o == *v,
            Check::NodeKind(mask) => mask & (1 << o.kind) != 0,
            Check::Class(c) => self.is_instance(o.o, *c),
            Check::Pattern => return None,
        })
    }

    /// The same batch semantics as [`super::step`]; outputs in the same order.
    pub fn run(&mut self, batch: &[Observation], out: &mut Actions) {
        out.clear();
        let classes = self.supers.len() as TermId;
        if let Some(rdf_type) = self.rdf_type {
            for o in batch.iter().filter(|o| o.p == rdf_type && o.o < classes) {
                let set = self.types.entry(o.s).or_default();
                if o.op == Observation::ADD {
                    set.insert(o.o);
                } else {
                    set.remove(&o.o);
                }
            }
        }
        for (i, o) in batch.iter().enumerate() {
            let obs = i as u32;
            if o.op == Observation::ADD {
                for g in self.guards.get(&o.p).into_iter().flatten() {
                    if g.subject_class.is_some_and(|c| !self.is_instance(o.s, c)) {
                        continue;
                    }
                    match self.check(g, o) {
                        Some(true) => {}
                        Some(false) => out.violations.push(Violation {
                            obs,
                            guard: g.index,
                        }),
                        None => out.deferred.push(Deferred {
                            obs,
                            guard: g.index,
                            rule: u32::MAX,
                        }),
                    }
                }
            }
            for rule in self.rules.get(&o.p).into_iter().flatten() {
                if rule.op != o.op
                    || rule
                        .subject_class
                        .is_some_and(|c| !self.is_instance(o.s, c))
                {
                    continue;
                }
                let mut fires = true;
                for g in &rule.guards {
                    match self.check(g, o) {
                        Some(true) => continue,
                        Some(false) => {}
                        None => out.deferred.push(Deferred {
                            obs,
                            guard: g.index,
                            rule: rule.index,
                        }),
                    }
                    fires = false;
                    break;
                }
                if !fires {
                    continue;
                }
                for &(kind, s, p, ob) in &rule.actions {
                    let pick = |(from, id): (u8, TermId)| match from {
                        slot::SUBJECT => o.s,
                        slot::OBJECT => o.o,
                        _ => id,
                    };
                    let (s, p, ob) = (pick(s), pick(p), pick(ob));
                    // A class the subject asserts is not derived again.
                    let asserted = self.types.get(&s).is_some_and(|c| c.contains(&ob));
                    if kind == u32::from(ActionTemplate::EMIT)
                        && Some(p) == self.rdf_type
                        && asserted
                    {
                        continue;
                    }
                    out.emitted.push(Emitted {
                        obs,
                        rule: rule.index,
                        kind,
                        s,
                        p,
                        o: ob,
                    });
                }
            }
        }
    }
}
