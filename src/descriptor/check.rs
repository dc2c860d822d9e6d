//! Stage 4 of the compiler: judge the extracted [`Model`] and turn it into checked rules and
//! admission checks, or refuse it with every problem found, each naming the rules, shapes or
//! terms involved.
//!
//! Refused: a rule without exactly one trigger predicate, an incomplete template or alert,
//! terms no input defines (predicates, classes), guards no value can pass (`min > max`, a set
//! whose members all fail the other guards, a datatype contradicting the property's range…),
//! rules that conflict (overlapping triggers emitting two values of a functional property, or
//! types declared disjoint), classes below two disjoint classes, and cycles of rules that could
//! trigger each other without bound. Reported as warnings: SHACL the kernel cannot check per
//! event (left to rudof at admission).

use std::collections::{BTreeMap, BTreeSet};

use oxrdf::{NamedNode, Term};

use super::error::CompileError;
use super::eval::{eval, satisfiable};
use super::extract::{Action, Constraint, Model, PropertyShape, RDF_TYPE, RuleDef, SH, Slot};
use super::schema::Schema;

/// A rule that passed the checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub iri: NamedNode,
    pub predicate: NamedNode,
    pub subject_class: Option<NamedNode>,
    pub guards: Vec<Constraint>,
    pub emits: Vec<(Slot, NamedNode, Slot)>,
    /// `(topic, message)`.
    pub alerts: Vec<(Term, Term)>,
}

/// An admission check: events `(s predicate o)` with `s` in `subject_class` (any when `None`)
/// must pass `guards`, or are refused naming `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    pub name: Term,
    pub predicate: NamedNode,
    pub subject_class: Option<NamedNode>,
    pub guards: Vec<Constraint>,
    pub message: Option<Term>,
}

/// What the checker hands the builder.
#[derive(Debug, Default)]
pub struct Checked {
    pub rules: Vec<Rule>,
    pub admissions: Vec<Admission>,
    pub warnings: Vec<String>,
}

const WELL_KNOWN: [&str; 5] = [
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://www.w3.org/2000/01/rdf-schema#",
    "http://www.w3.org/2002/07/owl#",
    "http://www.w3.org/2001/XMLSchema#",
    SH,
];

fn well_known(iri: &NamedNode) -> bool {
    WELL_KNOWN.iter().any(|ns| iri.as_str().starts_with(ns))
}

struct Checker<'a> {
    model: &'a Model,
    schema: &'a Schema,
    errors: Vec<String>,
}

impl Checker<'_> {
    fn property(&mut self, who: &str, term: &Term) -> Option<NamedNode> {
        match term {
            Term::NamedNode(p) if self.model.properties.contains(p) || well_known(p) => {
                Some(p.clone())
            }
            Term::NamedNode(p) => {
                self.errors.push(format!("{who}: undefined property {p}"));
                None
            }
            other => {
                self.errors
                    .push(format!("{who}: {other} is not a property IRI"));
                None
            }
        }
    }

    fn class(&mut self, who: &str, term: &Term) -> Option<NamedNode> {
        match term {
            Term::NamedNode(c) if self.model.classes.contains(c) || well_known(c) => {
                Some(c.clone())
            }
            Term::NamedNode(c) => {
                self.errors.push(format!("{who}: undefined class {c}"));
                None
            }
            other => {
                self.errors
                    .push(format!("{who}: {other} is not a class IRI"));
                None
            }
        }
    }

    /// Checks guards on the objects of `predicate`: satisfiable with the property's ranges.
    fn guards(&mut self, who: &str, predicate: &NamedNode, guards: &[Constraint]) {
        for g in guards {
            match g {
                Constraint::Unknown(c, v) => {
                    self.errors.push(format!("{who}: unknown guard {c} {v}"))
                }
                Constraint::Class(c) => {
                    self.class(who, &Term::NamedNode(c.clone()));
                }
                _ => {}
            }
        }
        let mut all = guards.to_vec();
        let ranges = self.schema.datatypes_of(predicate);
        all.extend(ranges.iter().cloned().map(Constraint::Datatype));
        if let Err(why) = satisfiable(&all) {
            let range = if ranges.is_empty() {
                String::new()
            } else {
                format!(" (with the range of {predicate})")
            };
            self.errors
                .push(format!("{who}: unsatisfiable guards{range}: {why}"));
        }
    }

    fn rule(&mut self, def: &RuleDef) -> Option<(Option<Rule>, Option<Admission>)> {
        let who = format!("rule {}", def.iri);
        if def.triggers != 1 || def.predicates.len() != 1 {
            self.errors.push(format!(
                "{who}: needs exactly one lg:trigger with one lg:onPredicate (has {} trigger(s), {} predicate(s))",
                def.triggers,
                def.predicates.len()
            ));
            return None;
        }
        let predicate = self.property(&who, &def.predicates[0])?;
        let subject_class = match def.subject_classes.as_slice() {
            [] => None,
            [c] => self.class(&who, c),
            _ => {
                self.errors
                    .push(format!("{who}: more than one lg:subjectClass"));
                None
            }
        };
        self.guards(&who, &predicate, &def.guards);
        if def.rejects.len() > 1 {
            self.errors
                .push(format!("{who}: more than one lg:reject message"));
        }
        let mut emits = Vec::new();
        let mut alerts = Vec::new();
        for action in &def.actions {
            match action {
                Action::Emit { s: Some(s), p: Some(p), o: Some(o) } => {
                    let Some(p) = self.property(&who, p) else { continue };
                    if p.as_str() == RDF_TYPE && let Slot::Const(c) = o {
                        self.class(&who, c);
                    }
                    emits.push((s.clone(), p, o.clone()));
                }
                Action::Emit { .. } => self.errors.push(format!(
                    "{who}: an lg:emit template needs lg:templateSubject, lg:templatePredicate and lg:templateObject"
                )),
                Action::Alert { topic: Some(t @ Term::Literal(_)), message: Some(m @ Term::Literal(_)) } => {
                    alerts.push((t.clone(), m.clone()));
                }
                Action::Alert { .. } => self
                    .errors
                    .push(format!("{who}: an lg:alert needs a literal lg:topic and lg:message")),
            }
        }
        if let Some(reject) = def.rejects.first() {
            if !emits.is_empty() || !alerts.is_empty() {
                self.errors.push(format!(
                    "{who}: an admission rule (lg:reject) has no other actions"
                ));
            }
            let admission = Admission {
                name: Term::NamedNode(def.iri.clone()),
                predicate,
                subject_class,
                guards: def.guards.clone(),
                message: Some(reject.clone()),
            };
            return Some((None, Some(admission)));
        }
        if emits.is_empty() && alerts.is_empty() {
            self.errors
                .push(format!("{who}: no action (lg:emit, lg:alert or lg:reject)"));
        }
        let rule = Rule {
            iri: def.iri.clone(),
            predicate,
            subject_class,
            guards: def.guards.clone(),
            emits,
            alerts,
        };
        Some((Some(rule), None))
    }

    fn shape(&mut self, shape: &PropertyShape, out: &mut Checked) {
        let who = format!("shape {}", shape.shape);
        for c in &shape.unlowered {
            out.warnings.push(format!(
                "{who}: {c} is not checked per event (left to rudof)"
            ));
        }
        let path = match &shape.path {
            Some(Term::NamedNode(p)) => p.clone(),
            _ => {
                out.warnings
                    .push(format!("{who}: a path that is not an IRI is left to rudof"));
                return;
            }
        };
        let Some(predicate) = self.property(&who, &Term::NamedNode(path.clone())) else {
            return;
        };
        let mut constraints = shape.constraints.clone();
        let single = matches!(&shape.max_count, Some(Term::Literal(l)) if l.value().trim() == "1");
        if constraints
            .iter()
            .any(|c| matches!(c, Constraint::HasValue(_)))
            && !single
        {
            out.warnings.push(format!(
                "{who}: sh:hasValue on a path without sh:maxCount 1 is left to rudof"
            ));
            constraints.retain(|c| !matches!(c, Constraint::HasValue(_)));
        }
        if constraints.is_empty() {
            return;
        }
        self.guards(&who, &predicate, &constraints);
        for (kind, target) in &shape.targets {
            let subject_class = match kind.as_str().strip_prefix(SH) {
                Some("targetClass") => match self.class(&who, target) {
                    Some(c) => Some(c),
                    None => continue,
                },
                Some("targetSubjectsOf") if target == &Term::NamedNode(path.clone()) => None,
                _ => {
                    out.warnings
                        .push(format!("{who}: target {kind} {target} is left to rudof"));
                    continue;
                }
            };
            out.admissions.push(Admission {
                name: shape.shape.clone(),
                predicate: predicate.clone(),
                subject_class,
                guards: constraints.clone(),
                message: shape.message.clone(),
            });
        }
    }
}

/// Runs every check; `Err(CompileError::Check)` lists every problem.
pub fn check(model: &Model, schema: &Schema) -> Result<Checked, CompileError> {
    let mut checker = Checker {
        model,
        schema,
        errors: Vec::new(),
    };
    let mut out = Checked::default();
    for class in &model.classes {
        let supers = schema.supers_of_class(class);
        for a in &supers {
            for b in schema.disjoint.get(a).into_iter().flatten() {
                if a < b && supers.contains(b) {
                    checker.errors.push(format!(
                        "class {class} is below disjoint classes {a} and {b}"
                    ));
                }
            }
        }
    }
    for p in &model.properties {
        let ranges = schema.datatypes_of(p);
        if ranges.len() > 1 {
            let list: Vec<String> = ranges.iter().map(ToString::to_string).collect();
            checker.errors.push(format!(
                "property {p} has conflicting datatype ranges {}",
                list.join(", ")
            ));
        }
        if p.as_str() != RDF_TYPE
            && !ranges.is_empty()
            && !p.as_str().starts_with("https://ledgraph.dev/")
        {
            out.admissions.push(Admission {
                name: Term::NamedNode(NamedNode::new_unchecked(format!(
                    "urn:ledgraph:axiom:range:{}",
                    p.as_str()
                ))),
                predicate: p.clone(),
                subject_class: None,
                guards: ranges.iter().cloned().map(Constraint::Datatype).collect(),
                message: None,
            });
        }
    }
    // owl:disjointWith: an instance of D may not be typed with C or a subclass of C.
    for (d, partners) in &schema.disjoint {
        let mut set: Vec<Term> = partners
            .iter()
            .flat_map(|c| {
                schema
                    .subclasses
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| BTreeSet::from([c.clone()]))
            })
            .map(Term::NamedNode)
            .collect();
        set.sort_by_key(ToString::to_string);
        set.dedup();
        out.admissions.push(Admission {
            name: Term::NamedNode(NamedNode::new_unchecked(format!(
                "urn:ledgraph:axiom:disjointWith:{}",
                d.as_str()
            ))),
            predicate: NamedNode::new_unchecked(RDF_TYPE),
            subject_class: Some(d.clone()),
            guards: vec![Constraint::NotIn(set)],
            message: None,
        });
    }
    for def in &model.rules {
        if let Some((rule, admission)) = checker.rule(def) {
            out.rules.extend(rule);
            out.admissions.extend(admission);
        }
    }
    for shape in &model.shapes {
        checker.shape(shape, &mut out);
    }
    for (shape, c) in &model.node_constraints_unlowered {
        out.warnings.push(format!(
            "shape {shape}: {c} on the node shape is left to rudof"
        ));
    }
    // The platform's own vocabulary describes rules, not data: no warning about it.
    let functional: Vec<String> = model
        .functional
        .iter()
        .filter(|p| !p.as_str().starts_with("https://ledgraph.dev/"))
        .map(ToString::to_string)
        .collect();
    if !functional.is_empty() {
        out.warnings.push(format!(
            "owl:FunctionalProperty needs the store (at most one value per subject), not checked per event: {}",
            functional.join(" ")
        ));
    }
    conflicts(&out.rules, schema, model, &mut checker.errors);
    cycles(&out.rules, schema, &mut checker.errors);
    if checker.errors.is_empty() {
        out.warnings.sort();
        out.warnings.dedup();
        Ok(out)
    } else {
        Err(CompileError::Check(checker.errors))
    }
}

/// Whether two rules can fire on the same observation.
fn overlap(a: &Rule, b: &Rule, schema: &Schema) -> bool {
    if a.predicate != b.predicate {
        return false;
    }
    if let (Some(x), Some(y)) = (&a.subject_class, &b.subject_class)
        && schema.classes_disjoint(x, y).is_some()
    {
        return false;
    }
    let mut guards = a.guards.clone();
    guards.extend(b.guards.iter().cloned());
    satisfiable(&guards).is_ok()
}

fn conflicts(rules: &[Rule], schema: &Schema, model: &Model, errors: &mut Vec<String>) {
    // A constant object must fit the emitted property's datatype range.
    for rule in rules {
        for (_, p, o) in &rule.emits {
            let Slot::Const(value) = o else { continue };
            for d in schema.datatypes_of(p) {
                if eval(&Constraint::Datatype(d.clone()), value) == Some(false) {
                    errors.push(format!(
                        "rule {}: emits {value} as {p}, whose range is {d}",
                        rule.iri
                    ));
                }
            }
        }
    }
    for rule in rules {
        for (s, p, o) in &rule.emits {
            if p.as_str() == RDF_TYPE
                && *s == Slot::Subject
                && let (Some(class), Slot::Const(Term::NamedNode(c))) = (&rule.subject_class, o)
                && let Some((x, y)) = schema.classes_disjoint(class, c)
            {
                errors.push(format!(
                    "rule {}: types its {class} subject {c}, but {x} and {y} are disjoint",
                    rule.iri
                ));
            }
        }
    }
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            if !overlap(a, b, schema) {
                continue;
            }
            for (sa, pa, oa) in &a.emits {
                for (sb, pb, ob) in &b.emits {
                    if sa != sb || pa != pb || oa == ob {
                        continue;
                    }
                    let (Slot::Const(x), Slot::Const(y)) = (oa, ob) else {
                        continue;
                    };
                    if model.functional.contains(pa) {
                        errors.push(format!(
                            "rules {} and {} conflict: both fire on {} and give the functional property {pa} two values ({x}, {y})",
                            a.iri, b.iri, a.predicate
                        ));
                    } else if pa.as_str() == RDF_TYPE
                        && let (Term::NamedNode(x), Term::NamedNode(y)) = (x, y)
                        && schema.classes_disjoint(x, y).is_some()
                    {
                        errors.push(format!(
                            "rules {} and {} conflict: both fire on {} and type one node with disjoint classes {x} and {y}",
                            a.iri, b.iri, a.predicate
                        ));
                    }
                }
            }
        }
    }
}

/// Predicates the ontology derives from a triple with predicate `p` (itself, super-properties,
/// inverses and their super-properties…), for the rule graph.
fn derived_predicates(p: &NamedNode, schema: &Schema) -> BTreeSet<NamedNode> {
    let mut seen = BTreeSet::from([p.clone()]);
    let mut stack = vec![p.clone()];
    while let Some(q) = stack.pop() {
        let next = schema
            .supers_of_property(&q)
            .into_iter()
            .chain(schema.inverses.get(&q).into_iter().flatten().cloned());
        for r in next {
            if seen.insert(r.clone()) {
                stack.push(r);
            }
        }
    }
    seen
}

/// Predicates reached through at least one inverse (the object becomes the subject).
fn inverse_reach(p: &NamedNode, schema: &Schema) -> BTreeSet<NamedNode> {
    derived_predicates(p, schema)
        .iter()
        .flat_map(|q| schema.inverses.get(q).into_iter().flatten())
        .flat_map(|r| derived_predicates(r, schema))
        .collect()
}

/// Refuses cycles in the graph "rule A emits a triple that triggers rule B".
fn cycles(rules: &[Rule], schema: &Schema, errors: &mut Vec<String>) {
    let mut edges: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, a) in rules.iter().enumerate() {
        for (_, p, o) in &a.emits {
            let reach = derived_predicates(p, schema);
            for (j, b) in rules.iter().enumerate() {
                if !reach.contains(&b.predicate) {
                    continue;
                }
                // A constant object that fails B's guards never triggers B.
                // (Only when B sees the same object: through super-properties, not inverses.)
                if let Slot::Const(value) = o
                    && b.guards.iter().any(|g| eval(g, value) == Some(false))
                    && !inverse_reach(p, schema).contains(&b.predicate)
                {
                    continue;
                }
                edges.entry(i).or_default().push(j);
            }
        }
    }
    // Iterative DFS with colours; report each cycle once, by the rules on it.
    let mut colour = vec![0u8; rules.len()];
    let mut reported = BTreeSet::new();
    for start in 0..rules.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = 1;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let succ = edges.get(&node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&to) = succ.get(*next) {
                *next += 1;
                if colour[to] == 1 {
                    let at = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let mut names: Vec<String> = path[at..]
                        .iter()
                        .map(|(n, _)| rules[*n].iri.to_string())
                        .collect();
                    let key: BTreeSet<String> = names.iter().cloned().collect();
                    if reported.insert(key) {
                        names.push(rules[to].iri.to_string());
                        errors.push(format!(
                            "rules trigger each other without bound: {}",
                            names.join(" → ")
                        ));
                    }
                } else if colour[to] == 0 {
                    colour[to] = 1;
                    path.push((to, 0));
                }
            } else {
                colour[node] = 2;
                path.pop();
            }
        }
    }
}
