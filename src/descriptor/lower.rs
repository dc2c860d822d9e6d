//! Stage 5a of the compiler: turn checked rules and the ontology's axioms into *effective*
//! rules, one list per observed predicate, so that the kernel never chains.
//!
//! The kernel applies the rules of an observation's predicate once and does not feed derived
//! triples back (`kernel::program::Rule`). So the compiler forward-chains symbolically here:
//! starting from the pattern `(Subject p Object)`, every rule a derived pattern would trigger
//! becomes one more effective rule under `p`, its guards and subject class combined with those
//! of the rules before it and its template rewritten in terms of the original subject and
//! object. Constant objects are judged at compile time ([`super::eval`]). The axioms become
//! rules too: `rdfs:subPropertyOf` (emit the super-property), `owl:inverseOf` and
//! `owl:SymmetricProperty` (emit the reversed triple), `rdfs:domain` and class `rdfs:range`
//! (emit `rdf:type`). Subclass entailment is not emitted: the kernel's class bitsets carry it.
//! Derived patterns are deduplicated, so inverse and symmetric loops end.

use std::collections::{BTreeMap, BTreeSet};

use oxrdf::{NamedNode, Term};

use super::check::{Checked, Rule};
use super::error::CompileError;
use super::eval::eval;
use super::extract::{Constraint, Model, RDF_TYPE, Slot};
use super::schema::Schema;

/// Most effective rules the chaining may produce for one predicate.
pub const EFFECTIVE_RULES_PER_PREDICATE_MAX: usize = 4096;

/// What a fired rule does, in terms of the observation.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionIr {
    Emit(Slot, NamedNode, Slot),
    /// Topic and message literals.
    Alert(Term, Term),
}

/// A rule as the kernel runs it: on an observation of `predicate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// The rule whose actions these are (a user rule or an axiom's minted name).
    pub name: NamedNode,
    pub subject_class: Option<NamedNode>,
    pub guards: Vec<Constraint>,
    pub actions: Vec<ActionIr>,
    /// Whether it is the rule as written (false: reached by chaining).
    pub direct: bool,
}

fn axiom(kind: &str, p: &NamedNode) -> NamedNode {
    NamedNode::new_unchecked(format!("urn:ledgraph:axiom:{kind}:{}", p.as_str()))
}

fn rdf_type() -> NamedNode {
    NamedNode::new_unchecked(RDF_TYPE)
}

/// A literal object cannot become a subject (reversed triple) or be typed (class range).
fn iri_or_blank() -> Constraint {
    Constraint::NodeKind(NamedNode::new_unchecked(
        "http://www.w3.org/ns/shacl#BlankNodeOrIRI",
    ))
}

/// The axioms of the ontology as rules.
pub fn axiom_rules(model: &Model, schema: &Schema) -> Vec<Rule> {
    let mut rules = Vec::new();
    let base = |name: NamedNode, p: &NamedNode| Rule {
        iri: name,
        predicate: p.clone(),
        subject_class: None,
        guards: Vec::new(),
        emits: Vec::new(),
        alerts: Vec::new(),
    };
    let mut direct_supers: BTreeMap<&NamedNode, Vec<&NamedNode>> = BTreeMap::new();
    for (p, q) in &model.subproperty_of {
        if p != q {
            direct_supers.entry(p).or_default().push(q);
        }
    }
    for p in &model.properties {
        if let Some(supers) = direct_supers.get(p) {
            let mut r = base(axiom("subPropertyOf", p), p);
            r.emits = supers
                .iter()
                .map(|q| (Slot::Subject, (*q).clone(), Slot::Object))
                .collect();
            rules.push(r);
        }
        if let Some(inverses) = schema.inverses.get(p) {
            let mut r = base(axiom("inverseOf", p), p);
            r.guards = vec![iri_or_blank()];
            r.emits = inverses
                .iter()
                .map(|q| (Slot::Object, q.clone(), Slot::Subject))
                .collect();
            rules.push(r);
        }
        if schema.symmetric.contains(p) {
            let mut r = base(axiom("SymmetricProperty", p), p);
            r.guards = vec![iri_or_blank()];
            r.emits = vec![(Slot::Object, p.clone(), Slot::Subject)];
            rules.push(r);
        }
        if let Some(domains) = schema.domains.get(p) {
            let mut r = base(axiom("domain", p), p);
            r.emits = domains
                .iter()
                .map(|d| {
                    (
                        Slot::Subject,
                        rdf_type(),
                        Slot::Const(Term::NamedNode(d.clone())),
                    )
                })
                .collect();
            rules.push(r);
        }
        if let Some(ranges) = schema.class_ranges.get(p) {
            let mut r = base(axiom("range", p), p);
            r.guards = vec![iri_or_blank()];
            r.emits = ranges
                .iter()
                .map(|c| {
                    (
                        Slot::Object,
                        rdf_type(),
                        Slot::Const(Term::NamedNode(c.clone())),
                    )
                })
                .collect();
            rules.push(r);
        }
    }
    rules
}

/// Rules on `rdf:type` whose guards name classes also fire for their subclasses.
fn widen_type_guards(rule: &mut Rule, schema: &Schema) {
    if rule.predicate.as_str() != RDF_TYPE {
        return;
    }
    let widen = |t: &Term| -> Vec<Term> {
        match t {
            Term::NamedNode(c) => schema
                .subclasses
                .get(c)
                .map(|subs| subs.iter().cloned().map(Term::NamedNode).collect())
                .unwrap_or_else(|| vec![t.clone()]),
            other => vec![other.clone()],
        }
    };
    for g in &mut rule.guards {
        let members = match g {
            Constraint::In(set) => set.iter().flat_map(&widen).collect::<Vec<_>>(),
            Constraint::HasValue(v) if matches!(v, Term::NamedNode(_)) => widen(v),
            _ => continue,
        };
        let mut members = members;
        members.sort_by_key(ToString::to_string);
        members.dedup();
        *g = Constraint::In(members);
    }
}

/// Conditions accumulated along a chain: the subject's class and guards on the object.
#[derive(Debug, Clone, PartialEq)]
struct Conditions {
    subject_class: Option<NamedNode>,
    guards: Vec<Constraint>,
}

/// Why a chain step cannot be compiled (reported as a warning; the step is dropped).
type Skip = String;

/// The conditions under which `rule` fires on the derived pattern `(s, _, o)`, given `c`;
/// `Ok(None)` when it never does.
fn fire(
    rule: &Rule,
    s: &Slot,
    o: &Slot,
    c: &Conditions,
    schema: &Schema,
) -> Result<Option<Conditions>, Skip> {
    let mut out = c.clone();
    if let Some(class) = &rule.subject_class {
        match s {
            Slot::Subject => match &out.subject_class {
                None => out.subject_class = Some(class.clone()),
                Some(have) if schema.is_subclass(have, class) => {}
                Some(have) if schema.is_subclass(class, have) => {
                    out.subject_class = Some(class.clone())
                }
                Some(have) if schema.classes_disjoint(have, class).is_some() => return Ok(None),
                Some(have) => return Err(format!("needs the subject in both {have} and {class}")),
            },
            Slot::Object => push_guard(&mut out.guards, Constraint::Class(class.clone())),
            Slot::Const(_) => {
                return Err(format!(
                    "cannot know the class of a constant subject ({class})"
                ));
            }
        }
    }
    for g in &rule.guards {
        match o {
            Slot::Object => push_guard(&mut out.guards, g.clone()),
            Slot::Const(v) => match eval(g, v) {
                Some(true) => {}
                Some(false) => return Ok(None),
                None => {
                    return Err(format!(
                        "cannot judge a guard on the constant {v} at compile time"
                    ));
                }
            },
            Slot::Subject => match g {
                Constraint::NodeKind(k) if k.as_str().ends_with("#BlankNodeOrIRI") => {}
                _ => return Err("a guard would apply to the observed subject".into()),
            },
        }
    }
    Ok(Some(out))
}

fn push_guard(guards: &mut Vec<Constraint>, g: Constraint) {
    if !guards.contains(&g) {
        guards.push(g);
    }
}

fn substitute(slot: &Slot, s: &Slot, o: &Slot) -> Slot {
    match slot {
        Slot::Subject => s.clone(),
        Slot::Object => o.clone(),
        c @ Slot::Const(_) => c.clone(),
    }
}

/// Effective rules by the predicate they run on.
pub type EffectiveRules = BTreeMap<NamedNode, Vec<Effective>>;

/// Effective rules per observed predicate, and warnings about chains that were dropped.
pub fn effective_rules(
    checked: &Checked,
    model: &Model,
    schema: &Schema,
) -> Result<(EffectiveRules, Vec<String>), CompileError> {
    let mut rules: Vec<Rule> = checked.rules.clone();
    for r in &mut rules {
        widen_type_guards(r, schema);
    }
    rules.extend(axiom_rules(model, schema));
    let mut by_predicate: BTreeMap<&NamedNode, Vec<&Rule>> = BTreeMap::new();
    for r in &rules {
        by_predicate.entry(&r.predicate).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    let mut warnings = BTreeSet::new();
    for p in by_predicate.keys() {
        let list = chain(p, &by_predicate, schema, &mut warnings)?;
        if !list.is_empty() {
            out.insert((*p).clone(), list);
        }
    }
    Ok((out, warnings.into_iter().collect()))
}

fn chain(
    p: &NamedNode,
    by_predicate: &BTreeMap<&NamedNode, Vec<&Rule>>,
    schema: &Schema,
    warnings: &mut BTreeSet<String>,
) -> Result<Vec<Effective>, CompileError> {
    let start = Conditions {
        subject_class: None,
        guards: Vec::new(),
    };
    let mut queue = vec![(Slot::Subject, p.clone(), Slot::Object, start, true)];
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out: Vec<Effective> = Vec::new();
    let mut next = 0;
    while next < queue.len() {
        let (s, q, o, c, direct) = queue[next].clone();
        next += 1;
        for rule in by_predicate.get(&q).into_iter().flatten() {
            let fired = match fire(rule, &s, &o, &c, schema) {
                Ok(Some(f)) => f,
                Ok(None) => continue,
                Err(why) => {
                    warnings.insert(format!(
                        "chain from {p} into rule {} not compiled: {why}",
                        rule.iri
                    ));
                    continue;
                }
            };
            let mut actions = Vec::new();
            for (ts, tp, to) in &rule.emits {
                let (ns, no) = (substitute(ts, &s, &o), substitute(to, &s, &o));
                if ns == Slot::Subject && tp == p && no == Slot::Object {
                    // The observation itself (an inverse of an inverse): nothing new.
                    continue;
                }
                actions.push(ActionIr::Emit(ns.clone(), tp.clone(), no.clone()));
                let key = format!("{ns:?} {tp} {no:?} {fired:?}");
                if seen.insert(key) {
                    queue.push((ns, tp.clone(), no, fired.clone(), false));
                }
            }
            for (topic, message) in &rule.alerts {
                actions.push(ActionIr::Alert(topic.clone(), message.clone()));
            }
            let effective = Effective {
                name: rule.iri.clone(),
                subject_class: fired.subject_class.clone(),
                guards: fired.guards.clone(),
                actions,
                direct,
            };
            if !out.contains(&effective) {
                out.push(effective);
            }
            if out.len() > EFFECTIVE_RULES_PER_PREDICATE_MAX {
                return Err(CompileError::Check(vec![format!(
                    "rules chained from {p} exceed {EFFECTIVE_RULES_PER_PREDICATE_MAX} effective rules"
                )]));
            }
        }
    }
    // A derived triple equal to one already emitted under the same conditions adds nothing:
    // drop duplicate emit actions across the list, keeping the first.
    let mut emitted: BTreeSet<String> = BTreeSet::new();
    for e in &mut out {
        let conds = format!("{:?} {:?}", e.subject_class, e.guards);
        e.actions.retain(|a| match a {
            ActionIr::Emit(s, p, o) => emitted.insert(format!("{s:?} {p} {o:?} {conds}")),
            ActionIr::Alert(..) => true,
        });
    }
    out.retain(|e| !e.actions.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::{check, extract, parse, schema::Schema};

    fn effective(ttl: &str) -> EffectiveRules {
        let prefixes = "@prefix ex: <https://e.test/#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n";
        let source = parse::Source {
            name: "t.ttl".into(),
            text: format!("{prefixes}{ttl}"),
        };
        let parsed = parse::parse(&[source]).expect("parses");
        let store = extract::load(&parsed.triples).expect("loads");
        let model = extract::extract(&store).expect("extracts");
        let schema = Schema::new(&model);
        let checked = check::check(&model, &schema).expect("checks");
        effective_rules(&checked, &model, &schema)
            .expect("lowers")
            .0
    }

    fn emits(rules: &EffectiveRules, p: &str) -> Vec<String> {
        let p = NamedNode::new_unchecked(format!("https://e.test/#{p}"));
        let mut out: Vec<String> = rules
            .get(&p)
            .into_iter()
            .flatten()
            .flat_map(|e| &e.actions)
            .filter_map(|a| match a {
                ActionIr::Emit(s, p, o) => Some(format!("{s:?} {p} {o:?}")),
                ActionIr::Alert(..) => None,
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn subproperty_chains_are_closed_at_compile_time() {
        let rules = effective("ex:a rdfs:subPropertyOf ex:b . ex:b rdfs:subPropertyOf ex:c .\n");
        assert_eq!(
            emits(&rules, "a"),
            [
                "Subject <https://e.test/#b> Object",
                "Subject <https://e.test/#c> Object"
            ]
        );
    }

    #[test]
    fn inverse_and_symmetric_loops_end() {
        let rules = effective(
            "ex:p owl:inverseOf ex:q . ex:s a owl:SymmetricProperty ; owl:inverseOf ex:s2 .\n",
        );
        assert_eq!(emits(&rules, "p"), ["Object <https://e.test/#q> Subject"]);
        let s = emits(&rules, "s");
        assert!(
            s.contains(&"Object <https://e.test/#s> Subject".to_owned()),
            "{s:?}"
        );
        assert!(
            s.contains(&"Object <https://e.test/#s2> Subject".to_owned()),
            "{s:?}"
        );
        assert!(
            s.contains(&"Subject <https://e.test/#s2> Object".to_owned()),
            "{s:?}"
        );
    }
}
