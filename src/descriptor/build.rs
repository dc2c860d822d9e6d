//! Stages 5b–6 of the compiler: intern every term to a dense id and lay out the kernel's
//! tables (`kernel::program::Program`): dispatch by predicate, admission guards, effective
//! rules, action templates, `sh:in` sets, the class closure bitsets, warm-path regexes, and the
//! term dictionary. Also assigns each rule to the hot or the warm path.
//!
//! Ids follow the kernel's contract: classes first (`0..class_count`, sorted by IRI), then
//! every other term sorted by its N-Triples text. Every list is built in a fixed order from
//! sorted inputs, so the same inputs give the same tables byte for byte.

use std::collections::{BTreeMap, BTreeSet};

use oxrdf::{NamedNode, Term};

use super::check::{Admission, Checked};
use super::error::CompileError;
use super::eval::{length_bound, node_kind_mask, number};
use super::extract::{Constraint, Model, RDF_TYPE, Slot};
use super::format::MessageEntry;
use super::lower::{ActionIr, Effective};
use super::schema::Schema;
use crate::kernel::program::{
    ActionTemplate, Dispatch, Guard, GuardKind, NO_TERM, PROGRAM_ABI_VERSION, Program,
    ProgramHeader, Rule, TermId, WarmEntry, slot,
};

/// Guards plus actions a rule may have and still count as fitting the hot path's tick budget.
pub const HOT_OPS_MAX: usize = 16;

/// The built tables and what the report says about them.
#[derive(Debug, Default)]
pub struct Built {
    pub program: Program,
    pub messages: Vec<MessageEntry>,
    /// Per user rule (or axiom) name: (path, effective rules, guards, actions).
    pub rule_stats: BTreeMap<String, RuleStats>,
    pub admission_guards: usize,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RuleStats {
    pub warm: bool,
    pub effective: usize,
    pub guards: usize,
    pub actions: usize,
    pub over_budget: bool,
}

/// Term interner with the kernel's id layout.
pub struct Interner {
    ids: BTreeMap<String, TermId>,
    texts: Vec<String>,
    class_count: u32,
}

impl Interner {
    fn new(classes: &BTreeSet<NamedNode>, others: BTreeSet<String>) -> Interner {
        let mut texts: Vec<String> = classes.iter().map(ToString::to_string).collect();
        let class_count = texts.len() as u32;
        let class_set: BTreeSet<&String> = texts.iter().collect();
        let rest: Vec<String> = others
            .into_iter()
            .filter(|t| !class_set.contains(t))
            .collect();
        texts.extend(rest);
        let ids = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as TermId))
            .collect();
        Interner {
            ids,
            texts,
            class_count,
        }
    }

    fn id(&self, term: &Term) -> TermId {
        self.ids.get(&term.to_string()).copied().unwrap_or(NO_TERM)
    }

    fn class(&self, class: Option<&NamedNode>) -> TermId {
        match class {
            Some(c) => self
                .ids
                .get(&c.to_string())
                .copied()
                .filter(|&i| i < self.class_count)
                .unwrap_or(NO_TERM),
            None => NO_TERM,
        }
    }
}

fn named(n: &NamedNode) -> Term {
    Term::NamedNode(n.clone())
}

fn constraint_terms(c: &Constraint, out: &mut BTreeSet<String>) {
    match c {
        Constraint::Datatype(d) => {
            out.insert(d.to_string());
        }
        Constraint::In(set) | Constraint::NotIn(set) => {
            out.extend(set.iter().map(ToString::to_string))
        }
        Constraint::HasValue(v) => {
            out.insert(v.to_string());
        }
        Constraint::Class(c) => {
            out.insert(c.to_string());
        }
        Constraint::Pattern(p, f) => {
            out.insert(p.to_string());
            out.extend(f.iter().map(ToString::to_string));
        }
        _ => {}
    }
}

fn collect_terms(
    model: &Model,
    admissions: &[Admission],
    rules: &BTreeMap<NamedNode, Vec<Effective>>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    out.insert(format!("<{RDF_TYPE}>"));
    out.extend(model.properties.iter().map(ToString::to_string));
    for a in admissions {
        out.insert(a.name.to_string());
        out.insert(a.predicate.to_string());
        out.extend(a.message.iter().map(ToString::to_string));
        a.guards.iter().for_each(|g| constraint_terms(g, &mut out));
    }
    for (p, list) in rules {
        out.insert(p.to_string());
        for e in list {
            out.insert(e.name.to_string());
            e.guards.iter().for_each(|g| constraint_terms(g, &mut out));
            for a in &e.actions {
                match a {
                    ActionIr::Emit(s, p, o) => {
                        out.insert(p.to_string());
                        for slot in [s, o] {
                            if let Slot::Const(t) = slot {
                                out.insert(t.to_string());
                            }
                        }
                    }
                    ActionIr::Alert(topic, message) => {
                        out.insert(topic.to_string());
                        out.insert(message.to_string());
                    }
                }
            }
        }
    }
    out
}

/// Every class the tables mention: the model's and any well-known one referenced.
fn classes(
    model: &Model,
    admissions: &[Admission],
    rules: &BTreeMap<NamedNode, Vec<Effective>>,
) -> BTreeSet<NamedNode> {
    let mut out = model.classes.clone();
    let mut add = |c: &Option<NamedNode>| out.extend(c.iter().cloned());
    for a in admissions {
        add(&a.subject_class);
    }
    for e in rules.values().flatten() {
        add(&e.subject_class);
    }
    let mut guards: Vec<&Constraint> = admissions.iter().flat_map(|a| &a.guards).collect();
    guards.extend(rules.values().flatten().flat_map(|e| &e.guards));
    for g in guards {
        if let Constraint::Class(c) = g {
            out.insert(c.clone());
        }
    }
    out
}

struct Tables<'a> {
    interner: &'a Interner,
    program: Program,
    messages: Vec<MessageEntry>,
    warm_index: BTreeMap<(TermId, TermId), u32>,
}

impl Tables<'_> {
    fn guard(
        &mut self,
        c: &Constraint,
        subject_class: TermId,
        name: TermId,
    ) -> Result<Guard, CompileError> {
        let bad = |why: &str| CompileError::Check(vec![format!("cannot lower {c:?}: {why}")]);
        let mut g = Guard {
            kind: 0,
            _pad: [0; 3],
            subject_class,
            a: 0,
            b: 0,
            value: 0.0,
            name,
            _reserved: 0,
        };
        let term = |t: &Term| self.interner.id(t);
        match c {
            Constraint::Datatype(d) => (g.kind, g.a) = (GuardKind::DATATYPE, term(&named(d))),
            Constraint::MinInclusive(l)
            | Constraint::MinExclusive(l)
            | Constraint::MaxInclusive(l)
            | Constraint::MaxExclusive(l) => {
                g.kind = match c {
                    Constraint::MinInclusive(_) => GuardKind::MIN_INCLUSIVE,
                    Constraint::MinExclusive(_) => GuardKind::MIN_EXCLUSIVE,
                    Constraint::MaxInclusive(_) => GuardKind::MAX_INCLUSIVE,
                    _ => GuardKind::MAX_EXCLUSIVE,
                };
                g.value = number(l).ok_or_else(|| bad("not a number"))?;
            }
            Constraint::MinLength(b) | Constraint::MaxLength(b) => {
                g.kind = if matches!(c, Constraint::MinLength(_)) {
                    GuardKind::MIN_LENGTH
                } else {
                    GuardKind::MAX_LENGTH
                };
                g.a = length_bound(b).ok_or_else(|| bad("not a length"))?;
            }
            Constraint::In(set) | Constraint::NotIn(set) => {
                let mut ids: Vec<TermId> = set.iter().map(term).collect();
                ids.sort_unstable();
                ids.dedup();
                g.kind = if matches!(c, Constraint::In(_)) {
                    GuardKind::IN
                } else {
                    GuardKind::NOT_IN
                };
                g.a = self.program.sets.len() as u32;
                g.b = ids.len() as u32;
                self.program.sets.extend(ids);
            }
            Constraint::HasValue(v) => (g.kind, g.a) = (GuardKind::HAS_VALUE, term(v)),
            Constraint::NodeKind(k) => {
                g.kind = GuardKind::NODE_KIND;
                g.a = node_kind_mask(k.as_str()).ok_or_else(|| bad("unknown node kind"))?;
            }
            Constraint::Class(cl) => {
                (g.kind, g.a) = (GuardKind::CLASS, self.interner.class(Some(cl)))
            }
            Constraint::Pattern(p, f) => {
                let key = (term(p), f.as_ref().map_or(NO_TERM, term));
                let next = self.program.warm.len() as u32;
                let index = *self.warm_index.entry(key).or_insert(next);
                if index == next {
                    self.program.warm.push(WarmEntry {
                        pattern: key.0,
                        flags: key.1,
                    });
                }
                (g.kind, g.a) = (GuardKind::PATTERN, index);
            }
            Constraint::Unknown(..) => return Err(bad("unknown constraint")),
        }
        Ok(g)
    }

    fn action(&self, a: &ActionIr) -> ActionTemplate {
        let from = |s: &Slot| match s {
            Slot::Subject => (slot::SUBJECT, NO_TERM),
            Slot::Object => (slot::OBJECT, NO_TERM),
            Slot::Const(t) => (slot::CONST, self.interner.id(t)),
        };
        match a {
            ActionIr::Emit(s, p, o) => {
                let ((sf, s), (of, o)) = (from(s), from(o));
                ActionTemplate {
                    kind: ActionTemplate::EMIT,
                    s_from: sf,
                    p_from: slot::CONST,
                    o_from: of,
                    s,
                    p: self.interner.id(&named(p)),
                    o,
                }
            }
            ActionIr::Alert(topic, _) => ActionTemplate {
                kind: ActionTemplate::ALERT,
                s_from: slot::SUBJECT,
                p_from: slot::CONST,
                o_from: slot::OBJECT,
                s: NO_TERM,
                p: self.interner.id(topic),
                o: NO_TERM,
            },
        }
    }
}

/// Builds the kernel's tables.
pub fn build(
    model: &Model,
    schema: &Schema,
    checked: &Checked,
    rules: &BTreeMap<NamedNode, Vec<Effective>>,
) -> Result<Built, CompileError> {
    let classes = classes(model, &checked.admissions, rules);
    let interner = Interner::new(&classes, collect_terms(model, &checked.admissions, rules));
    let class_count = interner.class_count;
    let class_words = class_count.div_ceil(64);
    let mut t = Tables {
        interner: &interner,
        program: Program::default(),
        messages: Vec::new(),
        warm_index: BTreeMap::new(),
    };
    // Class closure: row c has the bits of c and of its superclasses.
    t.program.class_closure = vec![0u64; class_count as usize * class_words as usize];
    for (c, class) in classes.iter().enumerate() {
        for sup in schema.supers_of_class(class) {
            let s = interner.class(Some(&sup));
            if s != NO_TERM {
                t.program.class_closure[c * class_words as usize + s as usize / 64] |=
                    1 << (s % 64);
            }
        }
    }
    let mut admissions: BTreeMap<TermId, Vec<&Admission>> = BTreeMap::new();
    for a in &checked.admissions {
        admissions
            .entry(interner.id(&named(&a.predicate)))
            .or_default()
            .push(a);
    }
    let mut effective: BTreeMap<TermId, &Vec<Effective>> = BTreeMap::new();
    for (p, list) in rules {
        effective.insert(interner.id(&named(p)), list);
    }
    let last = admissions
        .keys()
        .chain(effective.keys())
        .copied()
        .filter(|&i| i != NO_TERM)
        .max();
    let mut built = Built::default();
    let mut actions_max = 0u32;
    if let Some(last) = last {
        for p in 0..=last {
            let mut d = Dispatch {
                guard_start: t.program.guards.len() as u32,
                ..Dispatch::default()
            };
            for a in admissions.get(&p).into_iter().flatten() {
                let (class, name) = (
                    interner.class(a.subject_class.as_ref()),
                    interner.id(&a.name),
                );
                for c in &a.guards {
                    let g = t.guard(c, class, name)?;
                    if let Some(m) = &a.message {
                        let index = t.program.guards.len() as u32;
                        t.messages.push(MessageEntry {
                            kind: MessageEntry::GUARD,
                            index,
                            message: interner.id(m),
                        });
                    }
                    t.program.guards.push(g);
                    built.admission_guards += 1;
                }
            }
            d.guard_len = t.program.guards.len() as u32 - d.guard_start;
            d.rule_start = t.program.rules.len() as u32;
            let mut actions_here = 0;
            for e in effective.get(&p).into_iter().flat_map(|l| l.iter()) {
                let rule = lower_rule(&mut t, e)?;
                actions_here += rule.action_len;
                let stats = built.rule_stats.entry(e.name.to_string()).or_default();
                stats.effective += 1;
                stats.warm |= rule.path == Rule::WARM;
                stats.guards = stats.guards.max(rule.guard_len as usize);
                stats.actions = stats.actions.max(rule.action_len as usize);
                stats.over_budget |= (rule.guard_len + rule.action_len) as usize > HOT_OPS_MAX;
                t.program.rules.push(rule);
            }
            d.rule_len = t.program.rules.len() as u32 - d.rule_start;
            actions_max = actions_max.max(actions_here);
            t.program.dispatch.push(d);
        }
    }
    let (mut program, mut messages) = (t.program, t.messages);
    program.header = ProgramHeader {
        abi_version: PROGRAM_ABI_VERSION,
        term_count: interner.texts.len() as u32,
        class_count,
        class_words,
        rdf_type: interner.id(&named(&NamedNode::new_unchecked(RDF_TYPE))),
        actions_per_observation_max: actions_max,
    };
    program.term_offsets.push(0);
    for text in &interner.texts {
        program.term_bytes.extend_from_slice(text.as_bytes());
        program.term_offsets.push(program.term_bytes.len() as u32);
    }
    messages.sort();
    built.program = program;
    built.messages = messages;
    Ok(built)
}

fn lower_rule(t: &mut Tables<'_>, e: &Effective) -> Result<Rule, CompileError> {
    let name = t.interner.id(&named(&e.name));
    let guard_start = t.program.guards.len() as u32;
    let mut warm = false;
    for c in &e.guards {
        let g = t.guard(c, NO_TERM, name)?;
        warm |= g.kind == GuardKind::PATTERN;
        t.program.guards.push(g);
    }
    let action_start = t.program.actions.len() as u32;
    for a in &e.actions {
        if let ActionIr::Alert(_, message) = a {
            let index = t.program.actions.len() as u32;
            t.messages.push(MessageEntry {
                kind: MessageEntry::ACTION,
                index,
                message: t.interner.id(message),
            });
        }
        let template = t.action(a);
        t.program.actions.push(template);
    }
    Ok(Rule {
        name,
        subject_class: t.interner.class(e.subject_class.as_ref()),
        guard_start,
        guard_len: t.program.guards.len() as u32 - guard_start,
        action_start,
        action_len: t.program.actions.len() as u32 - action_start,
        path: if warm { Rule::WARM } else { Rule::HOT },
        op: 0,
    })
}

#[cfg(test)]
mod tests {
    use crate::descriptor::{check, extract, lower, parse, schema::Schema};

    #[test]
    fn classes_come_first_sorted_and_rows_hold_their_superclasses() {
        let text = "@prefix ex: <https://e.test/#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n\
            ex:B rdfs:subClassOf ex:A . ex:C rdfs:subClassOf ex:B . ex:p rdfs:domain ex:C .\n";
        let source = parse::Source {
            name: "t.ttl".into(),
            text: text.into(),
        };
        let parsed = parse::parse(&[source]).expect("parses");
        let model =
            extract::extract(&extract::load(&parsed.triples).expect("loads")).expect("extracts");
        let schema = Schema::new(&model);
        let checked = check::check(&model, &schema).expect("checks");
        let (effective, _) = lower::effective_rules(&checked, &model, &schema).expect("lowers");
        let built = super::build(&model, &schema, &checked, &effective).expect("builds");
        let p = built.program.view().expect("a valid program");
        let names: Vec<&str> = (0..p.header().class_count)
            .filter_map(|id| p.term(id))
            .collect();
        assert_eq!(
            names,
            [
                "<https://e.test/#A>",
                "<https://e.test/#B>",
                "<https://e.test/#C>"
            ]
        );
        // Row of C (id 2): C, B and A.
        assert_eq!(p.parts().class_closure[2], 0b111);
        assert_eq!(p.parts().class_closure[0], 0b001);
    }
}
