//! Validation reports of a batch: the W3C `sh:ValidationReport` as RDF (for 422 bodies in
//! Turtle or JSON-LD, and for the record a `warn` batch leaves in the log) and a JSON summary
//! a person can read (focus node, path, constraint, message, which event of the batch).
//!
//! Each `sh:ValidationResult` also carries `lg:eventIndex` (the event's position in the batch)
//! and `lg:shapeSet`; when the events' sequence numbers are known, `lg:event` links the event
//! node `urn:ledgraph:event:<seq>` of the event graph. Nested results (`sh:detail`) are left
//! out, as the W3C test suite compares reports without them.

use oxrdf::vocab::{rdf, xsd};
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use rudof_rdf::rdf_impl::OxigraphInMemory;
use serde::Serialize;
use shacl::validator::report::ValidationResult;

use super::{Mode, ShapesError};

const SH: &str = "http://www.w3.org/ns/shacl#";
const LG: &str = "https://ledgraph.dev/ns#";

fn iri(ns: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ns}{local}"))
}

/// One violation found in a batch.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The shape set (file stem) whose shape was violated.
    pub set: String,
    pub mode: Mode,
    /// Index of the event of the batch the violation is attributed to (the first event naming
    /// the focus node or the offending value), when there is one.
    pub event: Option<usize>,
    pub result: ValidationResult,
}

/// A readable line of the JSON summary.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResultSummary {
    /// Index of the event in the batch (from 0), if the violation can be tied to one.
    pub event: Option<usize>,
    /// The focus node in N-Triples syntax.
    pub focus_node: String,
    /// The result path as a SPARQL property path, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The constraint component, `sh:` prefixed (e.g. `sh:MinCountConstraintComponent`).
    pub constraint: String,
    pub message: String,
    /// `sh:Violation`, `sh:Warning` or `sh:Info`.
    pub severity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    pub shape_set: String,
    pub mode: Mode,
}

/// Everything the shapes found in one batch.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    pub findings: Vec<Finding>,
}

fn compact(term: &Term) -> String {
    match term {
        Term::NamedNode(n) => match n.as_str().strip_prefix(SH) {
            Some(local) => format!("sh:{local}"),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

impl BatchReport {
    pub fn conforms(&self) -> bool {
        self.findings.is_empty()
    }

    /// Findings of sets in `mode`.
    pub fn in_mode(&self, mode: Mode) -> BatchReport {
        BatchReport {
            findings: self
                .findings
                .iter()
                .filter(|f| f.mode == mode)
                .cloned()
                .collect(),
        }
    }

    pub fn summaries(&self) -> Vec<ResultSummary> {
        self.findings
            .iter()
            .map(|f| {
                let r = &f.result;
                let constraint = compact(&r.constraint_component().clone().into());
                let message = r.message().to_string();
                let message = message.trim_matches('"').to_owned();
                ResultSummary {
                    event: f.event,
                    focus_node: Term::from(r.focus_node().clone()).to_string(),
                    path: r.path().map(|p| p.to_string()),
                    message: if message.is_empty() {
                        format!("{constraint} is not satisfied")
                    } else {
                        message
                    },
                    constraint,
                    severity: format!("sh:{}", r.severity()),
                    value: r.value().map(|v| Term::from(v.clone()).to_string()),
                    shape: r.source().map(|s| Term::from(s.clone()).to_string()),
                    shape_set: f.set.clone(),
                    mode: f.mode,
                }
            })
            .collect()
    }

    /// The report as quads in `graph`. `report` names the report node and `result_prefix` the
    /// result nodes (`<prefix><k>`); blank nodes are used when they are `None`. `first_seq`
    /// links each result to its event node when known.
    pub fn to_quads(
        &self,
        report: Option<NamedNode>,
        result_prefix: Option<&str>,
        first_seq: Option<u64>,
        graph: GraphName,
    ) -> Result<Vec<Quad>, ShapesError> {
        let report: NamedOrBlankNode = match report {
            Some(n) => n.into(),
            None => BlankNode::default().into(),
        };
        let mut quads = Vec::new();
        let mut push = |s: NamedOrBlankNode, p: NamedNode, o: Term| {
            quads.push(Quad::new(s, p, o, graph.clone()));
        };
        push(
            report.clone(),
            rdf::TYPE.into_owned(),
            iri(SH, "ValidationReport").into(),
        );
        push(
            report.clone(),
            iri(SH, "conforms"),
            Literal::new_typed_literal(self.conforms().to_string(), xsd::BOOLEAN).into(),
        );
        for (k, finding) in self.findings.iter().enumerate() {
            let node: NamedOrBlankNode = match result_prefix {
                Some(prefix) => NamedNode::new_unchecked(format!("{prefix}{k}")).into(),
                None => BlankNode::default().into(),
            };
            push(report.clone(), iri(SH, "result"), node.clone().into());
            let mut g = OxigraphInMemory::new();
            finding
                .result
                .clone()
                .without_details()
                .to_rdf(&mut g, node.clone())
                .map_err(|e| ShapesError::Validation(e.to_string()))?;
            for q in g.quads() {
                push(q.subject, q.predicate, q.object);
            }
            if let Some(index) = finding.event {
                push(
                    node.clone(),
                    iri(LG, "eventIndex"),
                    Literal::new_typed_literal(index.to_string(), xsd::INTEGER).into(),
                );
                if let Some(first) = first_seq {
                    push(
                        node.clone(),
                        iri(LG, "event"),
                        crate::store::event_graph::event_iri(first + index as u64).into(),
                    );
                }
            }
            push(
                node,
                iri(LG, "shapeSet"),
                Literal::new_simple_literal(&finding.set).into(),
            );
        }
        Ok(quads)
    }
}
