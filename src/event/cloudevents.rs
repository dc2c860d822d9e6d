//! CloudEvents 1.0 input in the JSON event format
//! (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md>):
//! `application/cloudevents+json` (one event object) and `application/cloudevents-batch+json`
//! (a JSON array of them).
//!
//! ```json
//! {"specversion": "1.0", "id": "42", "source": "/sensors/7", "type": "org.example.reading",
//!  "datacontenttype": "application/n-triples",
//!  "data": "<https://e.org/s7> <https://e.org/reading> \"21.5\" ."}
//! ```
//!
//! The CloudEvents envelope is checked (required `specversion` = `"1.0"`, `id`, `source`,
//! `type`; optional attributes and extension attributes well-formed) and otherwise only carries
//! the changes: `datacontenttype` says how to read them from `data`:
//!
//! | `datacontenttype` | `data` |
//! |---|---|
//! | `application/json` (the default) | our JSON events, `[{op,s,p,o,g?}]` or one such object |
//! | `application/n-triples`, `application/n-quads`, `text/turtle` | a JSON string (all adds) |
//! | `application/rdf-patch` | a JSON string, see [`super::rdf_patch`] |
//!
//! Any of them can come as bytes in `data_base64` instead. The whole input is one transaction.
//! Errors name the event's index and attribute (`event 2, field "specversion"`); errors inside
//! `data` add the position inside the data (`event 0, field "data" at 1:14`).
//!
//! Deliberately not done: the envelope attributes (`id`, `source`, `time`, …) are not stored —
//! the log stamps its own time and actor — and ids are not de-duplicated across requests.

use base64::Engine;
use oxrdf::Quad;
use serde_json::{Map, Value};

use super::Op;
use super::input::{
    INPUT_CHANGES_MAX, InputError, Position, json_events_from_value, parse_nquads, parse_ntriples,
    parse_turtle,
};
use super::rdf_patch::parse_rdf_patch;

/// Upper bound of CloudEvents in one `application/cloudevents-batch+json` array.
pub const CLOUDEVENTS_BATCH_EVENTS_MAX: usize = 100_000;

/// The CloudEvents spec's recommended bound on attribute name length, in characters.
pub const CLOUDEVENTS_ATTRIBUTE_NAME_CHARS_MAX: usize = 20;

const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];
const OPTIONAL: [&str; 4] = ["datacontenttype", "dataschema", "subject", "time"];

/// Parses one CloudEvent (`application/cloudevents+json`) into changes.
///
/// ```
/// use ledgraph::event::cloudevents::parse_cloudevent;
///
/// let event = br#"{"specversion":"1.0","id":"1","source":"/s","type":"t",
///   "data":[{"op":"add","s":"<https://e.org/s>","p":"<https://e.org/p>","o":"\"v\""}]}"#;
/// assert_eq!(parse_cloudevent(event).unwrap().len(), 1);
/// ```
pub fn parse_cloudevent(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    let value: Value = serde_json::from_slice(input).map_err(|e| InputError::json_syntax(&e))?;
    let mut changes = Vec::new();
    event_changes(0, &value, &mut changes)?;
    Ok(changes)
}

/// Parses a batch of CloudEvents (`application/cloudevents-batch+json`) into changes, in
/// order; the batch is one transaction.
pub fn parse_cloudevents_batch(input: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
    let value: Value = serde_json::from_slice(input).map_err(|e| InputError::json_syntax(&e))?;
    let Value::Array(events) = value else {
        return Err(InputError {
            position: Position::LineColumn { line: 1, column: 1 },
            message: "a CloudEvents batch must be a JSON array of event objects".into(),
        });
    };
    if events.len() > CLOUDEVENTS_BATCH_EVENTS_MAX {
        return Err(InputError::at_event(
            CLOUDEVENTS_BATCH_EVENTS_MAX,
            format!("more than {CLOUDEVENTS_BATCH_EVENTS_MAX} CloudEvents in one batch"),
        ));
    }
    let mut changes = Vec::new();
    for (index, event) in events.iter().enumerate() {
        event_changes(index, event, &mut changes)?;
    }
    Ok(changes)
}

/// Checks event `index`'s envelope and appends the changes its data carries to `out`.
fn event_changes(index: usize, event: &Value, out: &mut Vec<(Op, Quad)>) -> Result<(), InputError> {
    let Value::Object(attributes) = event else {
        let hint = if event.is_array() {
            " (an array of events is a batch: application/cloudevents-batch+json)"
        } else {
            ""
        };
        return Err(InputError::at_event(
            index,
            format!("a CloudEvent must be a JSON object{hint}"),
        ));
    };
    check_envelope(index, attributes)?;
    let content_type = match attributes.get("datacontenttype") {
        Some(Value::String(t)) => MediaType::parse(t)
            .ok_or_else(|| InputError::at_field(index, "datacontenttype", unsupported(t)))?,
        _ => MediaType::Json,
    };
    let changes = match (attributes.get("data"), attributes.get("data_base64")) {
        (Some(_), Some(_)) => {
            return Err(InputError::at_field(
                index,
                "data_base64",
                "an event carries \"data\" or \"data_base64\", not both",
            ));
        }
        (None, None) | (Some(Value::Null), None) => {
            return Err(InputError::at_field(
                index,
                "data",
                "missing: the event carries no changes",
            ));
        }
        (Some(data), None) => inline_data(index, content_type, data)?,
        (None, Some(Value::String(encoded))) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| {
                    InputError::at_field(index, "data_base64", format!("not base64: {e}"))
                })?;
            content_type
                .parse_bytes(&bytes)
                .map_err(|e| e.in_field(index, "data_base64"))?
        }
        (None, Some(_)) => {
            return Err(InputError::at_field(
                index,
                "data_base64",
                "must be a base64 string",
            ));
        }
    };
    if out.len() + changes.len() > INPUT_CHANGES_MAX {
        return Err(InputError::at_event(
            index,
            format!("more than {INPUT_CHANGES_MAX} changes in one input"),
        ));
    }
    out.extend(changes);
    Ok(())
}

fn check_envelope(index: usize, attributes: &Map<String, Value>) -> Result<(), InputError> {
    for name in REQUIRED {
        match attributes.get(name) {
            Some(Value::String(v)) if !v.is_empty() => {}
            Some(Value::String(_)) => {
                return Err(InputError::at_field(index, name, "must not be empty"));
            }
            Some(_) => return Err(InputError::at_field(index, name, "must be a string")),
            None => {
                return Err(InputError::at_field(
                    index,
                    name,
                    "missing required attribute",
                ));
            }
        }
    }
    if let Some(Value::String(version)) = attributes.get("specversion") {
        if version != "1.0" {
            return Err(InputError::at_field(
                index,
                "specversion",
                format!("unsupported specversion {version:?}: expected \"1.0\""),
            ));
        }
    }
    for name in OPTIONAL {
        match attributes.get(name) {
            None | Some(Value::String(_)) => {}
            Some(_) => return Err(InputError::at_field(index, name, "must be a string")),
        }
    }
    for (name, value) in attributes {
        if REQUIRED.contains(&name.as_str())
            || OPTIONAL.contains(&name.as_str())
            || name == "data"
            || name == "data_base64"
        {
            continue;
        }
        check_extension(index, name, value)?;
    }
    Ok(())
}

/// Extension attributes: lowercase ASCII letters and digits, scalar values.
fn check_extension(index: usize, name: &str, value: &Value) -> Result<(), InputError> {
    let well_named = !name.is_empty()
        && name.chars().count() <= CLOUDEVENTS_ATTRIBUTE_NAME_CHARS_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !well_named {
        return Err(InputError::at_event(
            index,
            format!(
                "invalid attribute name {name:?}: CloudEvents attribute names are 1 to \
                 {CLOUDEVENTS_ATTRIBUTE_NAME_CHARS_MAX} lowercase letters or digits"
            ),
        ));
    }
    if matches!(value, Value::Array(_) | Value::Object(_)) {
        return Err(InputError::at_event(
            index,
            format!("extension attribute {name:?} must be a string, number or boolean"),
        ));
    }
    Ok(())
}

/// `data` given inline: a JSON value for JSON, a JSON string for the text formats.
fn inline_data(
    index: usize,
    content_type: MediaType,
    data: &Value,
) -> Result<Vec<(Op, Quad)>, InputError> {
    match (content_type, data) {
        (MediaType::Json, Value::Array(_) | Value::Object(_)) => json_events_from_value(data),
        (MediaType::Json, _) => {
            return Err(InputError::at_field(
                index,
                "data",
                "with datacontenttype application/json, data must be an array of events \
                 [{op,s,p,o,g?}] or one event object",
            ));
        }
        (_, Value::String(text)) => content_type.parse_bytes(text.as_bytes()),
        (_, _) => {
            return Err(InputError::at_field(
                index,
                "data",
                format!(
                    "with datacontenttype {}, data must be a JSON string (or use data_base64)",
                    content_type.name()
                ),
            ));
        }
    }
    .map_err(|e| e.in_field(index, "data"))
}

fn unsupported(media_type: &str) -> String {
    format!(
        "unsupported {media_type:?}: expected application/json, application/n-triples, \
         application/n-quads, text/turtle or application/rdf-patch"
    )
}

/// The data formats a CloudEvent can carry changes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    Json,
    NTriples,
    NQuads,
    Turtle,
    RdfPatch,
}

impl MediaType {
    /// Reads a media type, ignoring parameters (`; charset=utf-8`) and case.
    fn parse(text: &str) -> Option<Self> {
        let essence = text.split(';').next().unwrap_or_default().trim();
        Some(match essence.to_ascii_lowercase().as_str() {
            "application/json" | "text/json" => MediaType::Json,
            "application/n-triples" => MediaType::NTriples,
            "application/n-quads" => MediaType::NQuads,
            "text/turtle" => MediaType::Turtle,
            "application/rdf-patch" => MediaType::RdfPatch,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            MediaType::Json => "application/json",
            MediaType::NTriples => "application/n-triples",
            MediaType::NQuads => "application/n-quads",
            MediaType::Turtle => "text/turtle",
            MediaType::RdfPatch => "application/rdf-patch",
        }
    }

    fn parse_bytes(self, bytes: &[u8]) -> Result<Vec<(Op, Quad)>, InputError> {
        match self {
            MediaType::Json => {
                let value: Value =
                    serde_json::from_slice(bytes).map_err(|e| InputError::json_syntax(&e))?;
                json_events_from_value(&value)
            }
            MediaType::NTriples => parse_ntriples(bytes),
            MediaType::NQuads => parse_nquads(bytes),
            MediaType::Turtle => parse_turtle(bytes),
            MediaType::RdfPatch => parse_rdf_patch(bytes),
        }
    }
}
