//! Parsing publisher input into changes: N-Triples / N-Quads (all adds) and JSON events.
//!
//! JSON events are a list of objects `{"op": "add"|"remove", "s": T, "p": T, "o": T, "g": T?}`
//! where every `T` is a term in N-Triples syntax (`<http://…>`, `_:b1`, `"v"@en`,
//! `"1"^^<http://www.w3.org/2001/XMLSchema#integer>`). Blank nodes are allowed here; they are
//! skolemized before the batch is encoded.
//!
//! Every error names where it happened — line and column for syntax, the event's index and
//! field for a bad term — so a user can fix the input. Nothing is partially accepted: a parse
//! either yields every change of the input or an error.

use std::str::FromStr;

use oxrdf::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use oxttl::{NQuadsParser, NTriplesParser, TurtleSyntaxError};
use serde::Deserialize;

use super::Op;

/// Upper bound of changes in one parsed input (one transaction).
pub const INPUT_CHANGES_MAX: usize = 1_000_000;

/// Where in the input a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// 1-based line and column.
    LineColumn { line: u64, column: u64 },
    /// A JSON event by 0-based index, and the offending field.
    Field { index: usize, field: &'static str },
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::LineColumn { line, column } => write!(f, "{line}:{column}"),
            Position::Field { index, field } => write!(f, "event {index}, field \"{field}\""),
        }
    }
}

/// Input that cannot become a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: {message}")]
pub struct InputError {
    pub position: Position,
    pub message: String,
}

impl InputError {
    fn at_field(index: usize, field: &'static str, message: impl Into<String>) -> Self {
        InputError {
            position: Position::Field { index, field },
            message: message.into(),
        }
    }
}

impl From<TurtleSyntaxError> for InputError {
    fn from(e: TurtleSyntaxError) -> Self {
        let start = e.location().start;
        InputError {
            position: Position::LineColumn {
                line: start.line + 1,
                column: start.column + 1,
            },
            message: e.message().to_owned(),
        }
    }
}

fn too_many() -> InputError {
    InputError {
        position: Position::LineColumn { line: 0, column: 0 },
        message: format!("more than {INPUT_CHANGES_MAX} changes in one input"),
    }
}

/// Collects parsed quads as adds, up to [`INPUT_CHANGES_MAX`].
fn adds(
    quads: impl Iterator<Item = Result<Quad, TurtleSyntaxError>>,
) -> Result<Vec<(Op, Quad)>, InputError> {
    let mut out = Vec::new();
    for quad in quads {
        if out.len() == INPUT_CHANGES_MAX {
            return Err(too_many());
        }
        out.push((Op::Add, quad?));
    }
    Ok(out)
}

/// Parses N-Triples; every triple is an `add` in the default graph.
pub fn parse_ntriples(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    adds(
        NTriplesParser::new()
            .for_slice(input)
            .map(|t| t.map(|t| t.in_graph(GraphName::DefaultGraph))),
    )
}

/// Parses Turtle; every triple is an `add` in the default graph.
pub fn parse_turtle(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    adds(
        oxttl::TurtleParser::new()
            .for_slice(input)
            .map(|t| t.map(|t| t.in_graph(GraphName::DefaultGraph))),
    )
}

/// Parses N-Quads; every quad is an `add`.
pub fn parse_nquads(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    adds(NQuadsParser::new().for_slice(input))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEvent {
    op: String,
    s: String,
    p: String,
    o: String,
    #[serde(default)]
    g: Option<String>,
}

/// Parses a JSON array of events (see the module doc).
pub fn parse_json_events(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    let raw: Vec<JsonEvent> = serde_json::from_slice(input).map_err(|e| InputError {
        position: Position::LineColumn {
            line: e.line() as u64,
            column: e.column() as u64,
        },
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })?;
    if raw.len() > INPUT_CHANGES_MAX {
        return Err(too_many());
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, e)| json_change(i, e))
        .collect()
}

fn json_change(index: usize, e: JsonEvent) -> Result<(Op, Quad), InputError> {
    let op =
        Op::from_str(&e.op).map_err(|err| InputError::at_field(index, "op", err.to_string()))?;
    let subject = match term(index, "s", &e.s)? {
        Term::NamedNode(n) => NamedOrBlankNode::NamedNode(n),
        Term::BlankNode(b) => NamedOrBlankNode::BlankNode(b),
        _ => {
            return Err(InputError::at_field(
                index,
                "s",
                "the subject must be an IRI or blank node",
            ));
        }
    };
    let predicate = match term(index, "p", &e.p)? {
        Term::NamedNode(n) => n,
        _ => {
            return Err(InputError::at_field(
                index,
                "p",
                "the predicate must be an IRI",
            ));
        }
    };
    let object = term(index, "o", &e.o)?;
    let graph = match &e.g {
        None => GraphName::DefaultGraph,
        Some(g) => match term(index, "g", g)? {
            Term::NamedNode(n) => GraphName::NamedNode(n),
            Term::BlankNode(b) => GraphName::BlankNode(b),
            _ => return Err(InputError::at_field(index, "g", "the graph must be an IRI")),
        },
    };
    Ok((op, Quad::new(subject, predicate, object, graph)))
}

fn term(index: usize, field: &'static str, text: &str) -> Result<Term, InputError> {
    Term::from_str(text.trim())
        .map_err(|e| InputError::at_field(index, field, format!("{e}: {text}")))
}

/// Parses an IRI written bare or in angle brackets.
pub fn parse_iri(text: &str) -> Result<NamedNode, String> {
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    NamedNode::new(inner).map_err(|e| format!("invalid IRI {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntriples_syntax_error_names_line_and_column() {
        let err =
            parse_ntriples(b"<http://e/s> <http://e/p> \"ok\" .\n<http://e/s> <bad iri> \"x\" .\n")
                .unwrap_err();
        assert!(
            matches!(err.position, Position::LineColumn { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn json_unknown_op_names_the_event() {
        let err = parse_json_events(
            br#"[{"op":"upsert","s":"<http://e/s>","p":"<http://e/p>","o":"1"}]"#,
        )
        .unwrap_err();
        assert_eq!(
            err.position,
            Position::Field {
                index: 0,
                field: "op"
            }
        );
    }
}
