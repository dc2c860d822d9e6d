//! The compile report: what went in, what came out, which rules run on the hot path and which
//! on the warm one, and every warning. Deterministic text (no times, no absolute paths): it is
//! stored in the descriptor and shown by `ledgraph compile` and `GET /v1/descriptors`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use oxrdf::NamedNode;

use super::build::{Built, HOT_OPS_MAX};
use super::check::Checked;
use super::extract::{Constraint, Model};
use super::format::COMPILER_VERSION;
use super::lower::Effective;
use super::parse::Source;

/// Everything the report describes.
pub struct Facts<'a> {
    pub sources: &'a [Source],
    pub triples: usize,
    pub input_digest: &'a [u8; 32],
    pub model: &'a Model,
    pub checked: &'a Checked,
    pub effective: &'a BTreeMap<NamedNode, Vec<Effective>>,
    pub built: &'a Built,
}

/// `dir/file.ttl`: the last two components, so the report does not depend on where the
/// repository lives.
pub fn label(name: &str) -> String {
    let path = Path::new(name);
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path.parent().and_then(Path::file_name) {
        Some(dir) => format!("{}/{file}", dir.to_string_lossy()),
        None => file,
    }
}

pub fn render(f: &Facts<'_>) -> String {
    let mut out = String::new();
    let m = f.model;
    let p = &f.built.program;
    let _ = writeln!(out, "ledgraph compile report ({COMPILER_VERSION})");
    let _ = writeln!(
        out,
        "inputs: {} files, {} triples, input digest sha256:{}",
        f.sources.len(),
        f.triples,
        hex::encode(f.input_digest)
    );
    let mut labels: Vec<String> = f.sources.iter().map(|s| label(&s.name)).collect();
    labels.sort();
    for l in labels {
        let _ = writeln!(out, "  {l}");
    }
    let _ = writeln!(
        out,
        "ontology: {} classes ({} subClassOf, {} disjointWith), {} properties ({} subPropertyOf, {} domain, {} range, {} inverseOf, {} symmetric, {} functional)",
        m.classes.len(),
        m.subclass_of.len(),
        m.disjoint.len(),
        m.properties.len(),
        m.subproperty_of.len(),
        m.domain.len(),
        m.range.len(),
        m.inverse_of.len(),
        m.symmetric.len(),
        m.functional.len()
    );
    let shapes: std::collections::BTreeSet<String> =
        m.shapes.iter().map(|s| s.shape.to_string()).collect();
    let _ = writeln!(
        out,
        "shapes: {} node shapes, {} property shapes; rules: {} written",
        shapes.len(),
        m.shapes.len(),
        m.rules.len()
    );
    let h = &p.header;
    let _ = writeln!(
        out,
        "tables: {} terms ({} classes, {} bitset words per class), {} dispatch entries, {} admission guards, {} effective rules, {} rule guards, {} actions, {} set members, {} warm regexes; at most {} actions per observation",
        h.term_count,
        h.class_count,
        h.class_words,
        p.dispatch.len(),
        f.built.admission_guards,
        p.rules.len(),
        p.guards.len() - f.built.admission_guards,
        p.actions.len(),
        p.sets.len(),
        p.warm.len(),
        h.actions_per_observation_max
    );
    let (mut hot, mut warm) = (Vec::new(), Vec::new());
    for r in &f.checked.rules {
        let name = format!("<{}>", r.iri.as_str());
        let stats = f.built.rule_stats.get(&name).copied().unwrap_or_default();
        let chained = f
            .effective
            .values()
            .flatten()
            .filter(|e| e.name == r.iri && !e.direct)
            .count();
        let line = format!(
            "  {} on {}: {} guard(s), {} action(s){}{}",
            r.iri,
            r.predicate,
            stats.guards,
            stats.actions,
            if chained > 0 {
                format!(", also reached by {chained} chain(s)")
            } else {
                String::new()
            },
            if stats.over_budget {
                format!(" — over the {HOT_OPS_MAX}-op budget")
            } else {
                String::new()
            }
        );
        // Over the budget stays hot (the kernel runs it inline) but is flagged on its line.
        if stats.warm {
            warm.push(line)
        } else {
            hot.push(line)
        }
    }
    for a in &f.checked.admissions {
        if !a.name.to_string().starts_with("<https://")
            && !a.name.to_string().starts_with("<http://")
        {
            continue;
        }
        let is_rule = m
            .rules
            .iter()
            .any(|r| oxrdf::Term::NamedNode(r.iri.clone()) == a.name);
        if !is_rule {
            continue;
        }
        let regex = a
            .guards
            .iter()
            .any(|g| matches!(g, Constraint::Pattern(..)));
        let line = format!(
            "  {} (admission) on {}: {} guard(s)",
            a.name,
            a.predicate,
            a.guards.len()
        );
        if regex {
            warm.push(line)
        } else {
            hot.push(line)
        }
    }
    let axioms = f
        .effective
        .values()
        .flatten()
        .filter(|e| e.name.as_str().starts_with("urn:ledgraph:axiom:"))
        .count();
    let _ = writeln!(out, "ontology axioms compiled to {axioms} effective rules");
    let admissions_from_shapes = f
        .checked
        .admissions
        .iter()
        .filter(|a| !a.name.to_string().contains("urn:ledgraph:axiom:"))
        .count();
    let _ = writeln!(
        out,
        "admission checks: {} (shapes and lg:reject rules), {} from ontology axioms (datatype ranges, disjointWith)",
        admissions_from_shapes,
        f.checked.admissions.len() - admissions_from_shapes
    );
    let _ = writeln!(out, "hot rules ({}):", hot.len());
    for l in &hot {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(
        out,
        "warm rules ({}, regex: run by the caller after the kernel):",
        warm.len()
    );
    for l in &warm {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out, "warnings ({}):", f.checked.warnings.len());
    for w in &f.checked.warnings {
        let _ = writeln!(out, "  {w}");
    }
    out
}
