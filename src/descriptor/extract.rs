//! Stages 2 and 3 of the compiler: load the parsed triples into an in-memory Oxigraph store
//! and extract what the compiler lowers with the SPARQL of `queries/compiler/`.
//!
//! The result, [`Model`], is plain data: classes, properties and their axioms, rules and the
//! property shapes of the per-event SHACL subset, each in a deterministic order (the queries
//! sort, and the sets here are B-trees). Nothing is checked here beyond what is needed to read
//! the rows; the checker ([`super::check`]) judges the model.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oxigraph::model::{GraphNameRef, QuadRef};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Store;
use oxrdf::{Literal, NamedNode, Term, Triple};

use super::error::CompileError;

pub(crate) const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
pub(crate) const SH: &str = "http://www.w3.org/ns/shacl#";
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// A constraint on the object of a matched triple (a rule guard or a lowered SHACL constraint).
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    Datatype(NamedNode),
    MinInclusive(Literal),
    MinExclusive(Literal),
    MaxInclusive(Literal),
    MaxExclusive(Literal),
    MinLength(Term),
    MaxLength(Term),
    /// The list's members, sorted and deduplicated.
    In(Vec<Term>),
    /// None of these (the compiler's lowering of `owl:disjointWith` on `rdf:type`).
    NotIn(Vec<Term>),
    HasValue(Term),
    /// `sh:nodeKind` / node-kind mask (`kernel::program::node_kind`).
    NodeKind(NamedNode),
    Class(NamedNode),
    /// Pattern and optional flags.
    Pattern(Term, Option<Term>),
    /// A guard or shape term the compiler does not know: the checker refuses it in rules.
    Unknown(NamedNode, Term),
}

/// A slot of an emitted triple template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Slot {
    Subject,
    Object,
    Const(Term),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Emit {
        s: Option<Slot>,
        p: Option<Term>,
        o: Option<Slot>,
    },
    Alert {
        topic: Option<Term>,
        message: Option<Term>,
    },
}

/// One `lg:Rule` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    pub iri: NamedNode,
    /// Every predicate its trigger(s) name: exactly one is valid.
    pub predicates: Vec<Term>,
    pub triggers: usize,
    pub subject_classes: Vec<Term>,
    pub guards: Vec<Constraint>,
    pub actions: Vec<Action>,
    /// `lg:reject` messages: one makes it an admission rule.
    pub rejects: Vec<Term>,
}

/// One property shape of a node shape, with the targets of the node shape.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyShape {
    /// The node shape's IRI (or blank node label) — what a report names.
    pub shape: Term,
    pub path: Option<Term>,
    /// `(sh:targetClass | sh:targetSubjectsOf | …, target)`.
    pub targets: Vec<(NamedNode, Term)>,
    pub constraints: Vec<Constraint>,
    pub max_count: Option<Term>,
    pub message: Option<Term>,
    /// Constraints not in the per-event subset, left to rudof.
    pub unlowered: Vec<NamedNode>,
}

/// What the compiler lowers, extracted from the inputs.
#[derive(Debug, Default)]
pub struct Model {
    pub classes: BTreeSet<NamedNode>,
    pub subclass_of: BTreeSet<(NamedNode, NamedNode)>,
    pub disjoint: BTreeSet<(NamedNode, NamedNode)>,
    pub properties: BTreeSet<NamedNode>,
    pub subproperty_of: BTreeSet<(NamedNode, NamedNode)>,
    pub domain: BTreeSet<(NamedNode, NamedNode)>,
    pub range: BTreeSet<(NamedNode, NamedNode)>,
    pub inverse_of: BTreeSet<(NamedNode, NamedNode)>,
    pub symmetric: BTreeSet<NamedNode>,
    pub functional: BTreeSet<NamedNode>,
    pub rules: Vec<RuleDef>,
    pub shapes: Vec<PropertyShape>,
    /// Node-shape level constraints left to rudof: `(shape, constraint)`.
    pub node_constraints_unlowered: Vec<(Term, NamedNode)>,
}

/// Whether `iri` names a datatype rather than a class (XSD, `rdf:langString`, `rdfs:Literal`…).
pub fn is_datatype(iri: &str) -> bool {
    iri.starts_with(XSD)
        || iri == "http://www.w3.org/2000/01/rdf-schema#Literal"
        || iri == "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
        || iri == "http://www.w3.org/1999/02/22-rdf-syntax-ns#PlainLiteral"
        || iri == "http://www.w3.org/1999/02/22-rdf-syntax-ns#HTML"
        || iri == "http://www.w3.org/1999/02/22-rdf-syntax-ns#XMLLiteral"
        || iri == "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
}

/// Loads `triples` into a fresh in-memory store.
pub fn load(triples: &[Triple]) -> Result<Store, CompileError> {
    let fail = |message: String| CompileError::Extract {
        query: "load",
        message,
    };
    let store = Store::new().map_err(|e| fail(e.to_string()))?;
    let mut loader = store.bulk_loader();
    loader
        .load_quads(triples.iter().map(|t| {
            QuadRef::new(
                &t.subject,
                &t.predicate,
                &t.object,
                GraphNameRef::DefaultGraph,
            )
            .into_owned()
        }))
        .map_err(|e| fail(e.to_string()))?;
    loader.commit().map_err(|e| fail(e.to_string()))?;
    Ok(store)
}

type Row = Vec<Option<Term>>;

fn select(store: &Store, name: &'static str, query: &str) -> Result<Vec<Row>, CompileError> {
    let fail = |message: String| CompileError::Extract {
        query: name,
        message,
    };
    let results = SparqlEvaluator::new()
        .parse_query(query)
        .map_err(|e| fail(e.to_string()))?
        .on_store(store)
        .execute()
        .map_err(|e| fail(e.to_string()))?;
    let QueryResults::Solutions(solutions) = results else {
        return Err(fail("not a SELECT query".into()));
    };
    let width = solutions.variables().len();
    let mut rows = Vec::new();
    for solution in solutions {
        let solution = solution.map_err(|e| fail(e.to_string()))?;
        rows.push((0..width).map(|i| solution.get(i).cloned()).collect());
    }
    Ok(rows)
}

fn iri(term: &Option<Term>) -> Option<NamedNode> {
    match term {
        Some(Term::NamedNode(n)) => Some(n.clone()),
        _ => None,
    }
}

fn lit(term: &Option<Term>) -> Option<Literal> {
    match term {
        Some(Term::Literal(l)) => Some(l.clone()),
        _ => None,
    }
}

/// Runs every extraction query.
pub fn extract(store: &Store) -> Result<Model, CompileError> {
    let mut model = Model::default();
    for row in select(
        store,
        "classes.rq",
        include_str!("../../queries/compiler/classes.rq"),
    )? {
        model.classes.extend(iri(&row[0]));
    }
    let axioms = include_str!("../../queries/compiler/class_axioms.rq");
    for row in select(store, "class_axioms.rq", axioms)? {
        let (Some(c), Some(axiom), Some(other)) = (iri(&row[0]), iri(&row[1]), iri(&row[2])) else {
            continue;
        };
        if axiom.as_str().ends_with("#subClassOf") {
            model.subclass_of.insert((c, other));
        } else {
            model.disjoint.insert((c, other));
        }
    }
    let properties = include_str!("../../queries/compiler/properties.rq");
    for row in select(store, "properties.rq", properties)? {
        model.properties.extend(iri(&row[0]));
    }
    extract_property_axioms(store, &mut model)?;
    let lists = extract_lists(store)?;
    model.rules = extract_rules(store, &lists)?;
    extract_shapes(store, &lists, &mut model)?;
    Ok(model)
}

fn extract_property_axioms(store: &Store, model: &mut Model) -> Result<(), CompileError> {
    let query = include_str!("../../queries/compiler/property_axioms.rq");
    for row in select(store, "property_axioms.rq", query)? {
        let (Some(p), Some(axiom), Some(value)) = (iri(&row[0]), iri(&row[1]), iri(&row[2])) else {
            continue;
        };
        let axiom = axiom.as_str();
        if axiom.ends_with("#subPropertyOf") {
            model.subproperty_of.insert((p, value));
        } else if axiom.ends_with("#domain") {
            model.classes.insert(value.clone());
            model.domain.insert((p, value));
        } else if axiom.ends_with("#range") {
            if !is_datatype(value.as_str()) {
                model.classes.insert(value.clone());
            }
            model.range.insert((p, value));
        } else if axiom.ends_with("#inverseOf") {
            model.inverse_of.insert((p, value));
        } else if value.as_str().ends_with("#SymmetricProperty") {
            model.symmetric.insert(p);
        } else {
            model.functional.insert(p);
        }
    }
    Ok(())
}

type Lists = HashMap<Term, Vec<Term>>;

fn extract_lists(store: &Store) -> Result<Lists, CompileError> {
    let mut lists = Lists::new();
    let query = include_str!("../../queries/compiler/list_members.rq");
    for row in select(store, "list_members.rq", query)? {
        if let (Some(list), Some(member)) = (row[0].clone(), row[1].clone()) {
            lists.entry(list).or_default().push(member);
        }
    }
    for members in lists.values_mut() {
        members.sort_by_key(ToString::to_string);
        members.dedup();
    }
    Ok(lists)
}

/// Reads one constraint `(predicate, value)` written in the `lg:` or `sh:` vocabulary; `None`
/// for statements that are not constraints (paths, messages, labels…).
fn constraint(predicate: &NamedNode, value: &Term, lists: &Lists) -> Option<Constraint> {
    let name = predicate.as_str();
    let (local, platform) = match name.strip_prefix("https://ledgraph.dev/ns#") {
        Some(local) => (local, true),
        None => (name.strip_prefix(SH)?, false),
    };
    let literal = || match value {
        Term::Literal(l) => Some(l.clone()),
        _ => None,
    };
    let named = || match value {
        Term::NamedNode(n) => Some(n.clone()),
        _ => None,
    };
    let unknown = || Some(Constraint::Unknown(predicate.clone(), value.clone()));
    Some(match local {
        "datatype" => named().map(Constraint::Datatype).or_else(unknown)?,
        "minInclusive" => literal().map(Constraint::MinInclusive).or_else(unknown)?,
        "minExclusive" => literal().map(Constraint::MinExclusive).or_else(unknown)?,
        "maxInclusive" => literal().map(Constraint::MaxInclusive).or_else(unknown)?,
        "maxExclusive" => literal().map(Constraint::MaxExclusive).or_else(unknown)?,
        "minLength" => Constraint::MinLength(value.clone()),
        "maxLength" => Constraint::MaxLength(value.clone()),
        "in" => Constraint::In(lists.get(value).cloned().unwrap_or_default()),
        "hasValue" if !platform => Constraint::HasValue(value.clone()),
        "equals" if platform => Constraint::HasValue(value.clone()),
        "nodeKind" => named().map(Constraint::NodeKind).or_else(unknown)?,
        "class" => named().map(Constraint::Class).or_else(unknown)?,
        "pattern" => Constraint::Pattern(value.clone(), None),
        _ if platform => return unknown(),
        _ => return None,
    })
}

fn extract_rules(store: &Store, lists: &Lists) -> Result<Vec<RuleDef>, CompileError> {
    let mut rules: BTreeMap<NamedNode, RuleDef> = BTreeMap::new();
    let mut triggers: BTreeMap<NamedNode, BTreeSet<String>> = BTreeMap::new();
    for row in select(
        store,
        "rules.rq",
        include_str!("../../queries/compiler/rules.rq"),
    )? {
        let Some(iri) = iri(&row[0]) else { continue };
        let rule = rules.entry(iri.clone()).or_insert_with(|| RuleDef {
            iri: iri.clone(),
            predicates: Vec::new(),
            triggers: 0,
            subject_classes: Vec::new(),
            guards: Vec::new(),
            actions: Vec::new(),
            rejects: Vec::new(),
        });
        if let Some(t) = &row[1] {
            triggers.entry(iri).or_default().insert(t.to_string());
        }
        if let Some(p) = &row[2]
            && !rule.predicates.contains(p)
        {
            rule.predicates.push(p.clone());
        }
        if let Some(r) = &row[3]
            && !rule.rejects.contains(r)
        {
            rule.rejects.push(r.clone());
        }
    }
    for (iri, set) in triggers {
        if let Some(rule) = rules.get_mut(&iri) {
            rule.triggers = set.len();
        }
    }
    let query = include_str!("../../queries/compiler/rule_subject_classes.rq");
    for row in select(store, "rule_subject_classes.rq", query)? {
        if let (Some(r), Some(c)) = (iri(&row[0]), row[1].clone())
            && let Some(rule) = rules.get_mut(&r)
        {
            rule.subject_classes.push(c);
        }
    }
    let query = include_str!("../../queries/compiler/rule_guards.rq");
    for row in select(store, "rule_guards.rq", query)? {
        if let (Some(r), Some(c), Some(v)) = (iri(&row[0]), iri(&row[2]), row[3].clone())
            && let Some(rule) = rules.get_mut(&r)
            && let Some(constraint) = constraint(&c, &v, lists)
        {
            rule.guards.push(constraint);
        }
    }
    let query = include_str!("../../queries/compiler/rule_actions.rq");
    for row in select(store, "rule_actions.rq", query)? {
        let Some(rule) = iri(&row[0]).and_then(|r| rules.get_mut(&r)) else {
            continue;
        };
        let kind = lit(&row[2])
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        rule.actions.push(if kind == "emit" {
            Action::Emit {
                s: row[3].as_ref().map(slot),
                p: row[4].clone(),
                o: row[5].as_ref().map(slot),
            }
        } else {
            Action::Alert {
                topic: row[6].clone(),
                message: row[7].clone(),
            }
        });
    }
    Ok(rules.into_values().collect())
}

fn slot(term: &Term) -> Slot {
    match term {
        Term::NamedNode(n) if n.as_str() == "https://ledgraph.dev/ns#Subject" => Slot::Subject,
        Term::NamedNode(n) if n.as_str() == "https://ledgraph.dev/ns#Object" => Slot::Object,
        other => Slot::Const(other.clone()),
    }
}

fn extract_shapes(store: &Store, lists: &Lists, model: &mut Model) -> Result<(), CompileError> {
    let mut targets: HashMap<Term, Vec<(NamedNode, Term)>> = HashMap::new();
    let query = include_str!("../../queries/compiler/shape_targets.rq");
    for row in select(store, "shape_targets.rq", query)? {
        if let (Some(shape), Some(kind), Some(target)) =
            (row[0].clone(), iri(&row[1]), row[2].clone())
        {
            targets.entry(shape).or_default().push((kind, target));
        }
    }
    // Keyed by the terms' text: oxrdf terms are not `Ord`, and the text order is deterministic.
    let mut shapes: BTreeMap<(String, String), PropertyShape> = BTreeMap::new();
    let query = include_str!("../../queries/compiler/shape_constraints.rq");
    for row in select(store, "shape_constraints.rq", query)? {
        let (Some(shape), Some(property), Some(c), Some(value)) =
            (row[0].clone(), row[1].clone(), iri(&row[2]), row[3].clone())
        else {
            continue;
        };
        let entry = shapes
            .entry((shape.to_string(), property.to_string()))
            .or_insert_with(|| PropertyShape {
                targets: targets.get(&shape).cloned().unwrap_or_default(),
                shape,
                path: None,
                constraints: Vec::new(),
                max_count: None,
                message: None,
                unlowered: Vec::new(),
            });
        let Some(local) = c.as_str().strip_prefix(SH) else {
            continue;
        };
        match local {
            "path" => entry.path = Some(value),
            "message" => entry.message = Some(value),
            "maxCount" => {
                entry.max_count = Some(value);
                entry.unlowered.push(c);
            }
            "name" | "description" | "severity" | "order" | "group" | "deactivated" => {}
            "flags" => {
                if let Some(Constraint::Pattern(_, flags)) = entry
                    .constraints
                    .iter_mut()
                    .find(|c| matches!(c, Constraint::Pattern(..)))
                {
                    *flags = Some(value);
                } else {
                    entry.constraints.push(Constraint::Unknown(c, value));
                }
            }
            _ => match constraint(&c, &value, lists) {
                Some(Constraint::Unknown(..)) | None => entry.unlowered.push(c),
                Some(Constraint::Pattern(p, _)) => {
                    // sh:flags may have been read first (rows are sorted by predicate).
                    let flags = entry.constraints.iter().position(|c| {
                        matches!(c, Constraint::Unknown(n, _) if n.as_str().ends_with("#flags"))
                    });
                    let flags = flags.map(|i| match entry.constraints.remove(i) {
                        Constraint::Unknown(_, v) => v,
                        _ => unreachable_term(),
                    });
                    entry.constraints.push(Constraint::Pattern(p, flags));
                }
                Some(other) => entry.constraints.push(other),
            },
        }
    }
    model.shapes = shapes.into_values().collect();
    let query = include_str!("../../queries/compiler/node_shape_constraints.rq");
    for row in select(store, "node_shape_constraints.rq", query)? {
        if let (Some(shape), Some(c)) = (row[0].clone(), iri(&row[1]))
            && c.as_str().starts_with(SH)
        {
            model.node_constraints_unlowered.push((shape, c));
        }
    }
    Ok(())
}

/// Placeholder for a branch the match above cannot take (the position found an `Unknown`).
fn unreachable_term() -> Term {
    Term::Literal(Literal::new_simple_literal(""))
}
