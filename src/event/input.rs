//! Parsing publisher input into changes: N-Triples / N-Quads / Turtle (all adds) and JSON
//! events. RDF Patch and CloudEvents live next door ([`super::rdf_patch`],
//! [`super::cloudevents`]) and share this module's [`InputError`] and limits.
//!
//! JSON events are a list of objects `{"op": "add"|"remove", "s": T, "p": T, "o": T, "g": T?}`
//! (or one such object) where every `T` is a term in N-Triples syntax (`<http://…>`, `_:b1`,
//! `"v"@en`, `"1"^^<http://www.w3.org/2001/XMLSchema#integer>`). Blank nodes are allowed here;
//! they are skolemized before the batch is encoded. JSON nesting is bounded by `serde_json`'s
//! recursion limit (128 levels), so hostile nesting is an error, not a stack overflow.
//!
//! Every error names where it happened — line and column for syntax, the event's index and
//! field for a bad term — so a user can fix the input. Nothing is partially accepted: a parse
//! either yields every change of the input or an error.

use std::str::FromStr;

use oxrdf::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use oxttl::{NQuadsParser, NTriplesParser, TurtleSyntaxError};
use serde_json::Value;

use super::Op;

/// Upper bound of changes in one parsed input (one transaction).
pub const INPUT_CHANGES_MAX: usize = 1_000_000;

/// Where in the input a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Position {
    /// 1-based line and column (columns count characters).
    LineColumn { line: u64, column: u64 },
    /// A JSON event (or CloudEvent) by 0-based index, and the offending field.
    Field { index: usize, field: &'static str },
    /// A JSON event (or CloudEvent) as a whole, by 0-based index: not an object, an unknown or
    /// badly named field, too many changes.
    Event { index: usize },
    /// A position inside a field of an event: e.g. a bad triple inside a CloudEvent's `data`,
    /// where `inner` is relative to the field's (decoded) content.
    InField {
        index: usize,
        field: &'static str,
        inner: Box<Position>,
    },
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::LineColumn { line, column } => write!(f, "{line}:{column}"),
            Position::Field { index, field } => write!(f, "event {index}, field \"{field}\""),
            Position::Event { index } => write!(f, "event {index}"),
            Position::InField {
                index,
                field,
                inner,
            } => write!(f, "event {index}, field \"{field}\" at {inner}"),
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
    pub(crate) fn at_field(index: usize, field: &'static str, message: impl Into<String>) -> Self {
        InputError {
            position: Position::Field { index, field },
            message: message.into(),
        }
    }

    pub(crate) fn at_event(index: usize, message: impl Into<String>) -> Self {
        InputError {
            position: Position::Event { index },
            message: message.into(),
        }
    }

    /// This error, moved inside field `field` of event `index`.
    pub(crate) fn in_field(self, index: usize, field: &'static str) -> Self {
        InputError {
            position: Position::InField {
                index,
                field,
                inner: Box::new(self.position),
            },
            message: self.message,
        }
    }

    /// A JSON syntax error, at its line and column.
    pub(crate) fn json_syntax(e: &serde_json::Error) -> Self {
        InputError {
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

pub(crate) fn too_many() -> InputError {
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

/// Parses JSON events: an array of event objects, or one object (see the module doc).
pub fn parse_json_events(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    let value: Value = serde_json::from_slice(input).map_err(|e| InputError::json_syntax(&e))?;
    json_events_from_value(&value)
}

/// Reads JSON events from an already parsed value; shared with CloudEvents' `data`.
pub(crate) fn json_events_from_value(value: &Value) -> Result<Vec<(Op, Quad)>, InputError> {
    match value {
        Value::Array(events) => {
            if events.len() > INPUT_CHANGES_MAX {
                return Err(too_many());
            }
            events
                .iter()
                .enumerate()
                .map(|(i, e)| json_change(i, e))
                .collect()
        }
        Value::Object(_) => Ok(vec![json_change(0, value)?]),
        _ => Err(InputError {
            position: Position::LineColumn { line: 1, column: 1 },
            message: "expected a JSON array of events [{op,s,p,o,g?}] or one event object".into(),
        }),
    }
}

const JSON_EVENT_FIELDS: [&str; 5] = ["op", "s", "p", "o", "g"];

fn json_change(index: usize, event: &Value) -> Result<(Op, Quad), InputError> {
    let Value::Object(fields) = event else {
        return Err(InputError::at_event(
            index,
            "an event must be an object {\"op\", \"s\", \"p\", \"o\", \"g\"?}",
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !JSON_EVENT_FIELDS.contains(&k.as_str()))
    {
        return Err(InputError::at_event(
            index,
            format!("unknown field {unknown:?}: expected op, s, p, o and optionally g"),
        ));
    }
    let text = |field: &'static str| match fields.get(field) {
        Some(Value::String(text)) => Ok(Some(text.as_str())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(InputError::at_field(index, field, "must be a string")),
    };
    let required = |field: &'static str| {
        text(field)?.ok_or_else(|| InputError::at_field(index, field, "missing"))
    };
    let op = required("op")?;
    let op = Op::from_str(op).map_err(|err| InputError::at_field(index, "op", err.to_string()))?;
    let subject = match term(index, "s", required("s")?)? {
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
    let predicate = match term(index, "p", required("p")?)? {
        Term::NamedNode(n) => n,
        _ => {
            return Err(InputError::at_field(
                index,
                "p",
                "the predicate must be an IRI",
            ));
        }
    };
    let object = term(index, "o", required("o")?)?;
    let graph = match text("g")? {
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
