//! How one delivered event is written on a subscription stream: our JSON event (the same
//! shape `POST /v1/events` takes, plus `seq`), an RDF Patch row, or a CloudEvent.
//!
//! A CloudEvent's `data` is exactly a JSON event `{op,s,p,o,g?}`, so a subscriber can
//! re-publish what it receives to another ledgraph unchanged
//! (`application/cloudevents+json`). Its `id` is the log position, `time` the event's hybrid
//! logical clock time (millisecond part), and the extension attributes `ledgraphseq` and
//! `ledgraphtxend` carry the position and whether the event ends its transaction.
//!
//! An alert (a `topic=` subscription, [`render_alert`]) is one JSON object
//! `{seq, topic, message?, subject?, object?, rule?, input_seq?}` — `seq` the alert record's log
//! position (the SSE `id:`), `input_seq` the event that raised it, terms in N-Triples syntax —
//! or a CloudEvent of type `dev.ledgraph.alert` whose `subject` is the topic and whose `data`
//! is that object.

use axum::http::{HeaderMap, header};
use oxrdf::GraphName;
use serde::Serialize;
use serde_json::json;

use crate::bus::BusItem;
use crate::event::{Op, hlc};
use crate::http::AppError;
use crate::kernel::alerts::Alert;

/// CloudEvents `type` of an added and of a removed triple.
const CLOUDEVENT_TYPE_ADD: &str = "dev.ledgraph.event.add";
const CLOUDEVENT_TYPE_REMOVE: &str = "dev.ledgraph.event.remove";
/// CloudEvents `type` of an alert.
const CLOUDEVENT_TYPE_ALERT: &str = "dev.ledgraph.alert";
/// CloudEvents `source`: the log the events come from.
const CLOUDEVENT_SOURCE: &str = "urn:ledgraph:log";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    RdfPatch,
    CloudEvents,
}

impl Format {
    /// From the `format` parameter, else from `Accept`, else JSON.
    pub fn choose(param: Option<&str>, headers: &HeaderMap) -> Result<Format, AppError> {
        match param {
            Some("json") => Ok(Format::Json),
            Some("rdf-patch") => Ok(Format::RdfPatch),
            Some("cloudevents") => Ok(Format::CloudEvents),
            Some(other) => Err(AppError::bad_request(format!(
                "format: unknown format {other:?} (expected json, rdf-patch or cloudevents)"
            ))),
            None => {
                let accept = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if accept.contains("application/rdf-patch") {
                    Ok(Format::RdfPatch)
                } else if accept.contains("application/cloudevents+json") {
                    Ok(Format::CloudEvents)
                } else {
                    Ok(Format::Json)
                }
            }
        }
    }
}

#[derive(Serialize)]
struct ItemJson {
    seq: u64,
    op: &'static str,
    s: String,
    p: String,
    o: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    g: Option<String>,
    ends_transaction: bool,
}

#[derive(Serialize)]
struct AlertJson<'a> {
    seq: u64,
    topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_seq: Option<u64>,
}

/// The text of one alert in `format` (JSON unless CloudEvents: a topic subscription refuses
/// RDF Patch); `time` is its record's hybrid-logical-clock time.
pub fn render_alert(alert: &Alert, time: u64, format: Format) -> String {
    let json = AlertJson {
        seq: alert.seq,
        topic: &alert.topic,
        message: alert.message.as_deref(),
        subject: alert.subject.as_ref().map(ToString::to_string),
        object: alert.object.as_ref().map(ToString::to_string),
        rule: alert.rule.as_ref().map(ToString::to_string),
        input_seq: alert.input_seq,
    };
    match format {
        Format::CloudEvents => json!({
            "specversion": "1.0",
            "id": alert.seq.to_string(),
            "source": CLOUDEVENT_SOURCE,
            "type": CLOUDEVENT_TYPE_ALERT,
            "subject": alert.topic,
            "time": hlc::rfc3339_from_ms(hlc::millis(time)),
            "datacontenttype": "application/json",
            "ledgraphseq": alert.seq,
            "data": json,
        })
        .to_string(),
        // Serializing strings and numbers cannot fail.
        _ => serde_json::to_string(&json).unwrap_or_default(),
    }
}

/// The text of one event in `format`.
pub fn render(item: &BusItem, format: Format) -> String {
    let quad = &item.quad;
    let graph = match &quad.graph_name {
        GraphName::DefaultGraph => None,
        other => Some(other.to_string()),
    };
    match format {
        Format::Json => {
            let json = ItemJson {
                seq: item.seq,
                op: item.op.as_str(),
                s: quad.subject.to_string(),
                p: quad.predicate.to_string(),
                o: quad.object.to_string(),
                g: graph,
                ends_transaction: item.ends_transaction,
            };
            // Serializing strings and numbers cannot fail.
            serde_json::to_string(&json).unwrap_or_default()
        }
        Format::RdfPatch => {
            let row = if item.op == Op::Add { "A" } else { "D" };
            match graph {
                Some(g) => format!(
                    "{row} {} {} {} {g} .",
                    quad.subject, quad.predicate, quad.object
                ),
                None => format!(
                    "{row} {} {} {} .",
                    quad.subject, quad.predicate, quad.object
                ),
            }
        }
        Format::CloudEvents => {
            let mut data = json!({
                "op": item.op.as_str(),
                "s": quad.subject.to_string(),
                "p": quad.predicate.to_string(),
                "o": quad.object.to_string(),
            });
            if let Some(g) = graph {
                data["g"] = g.into();
            }
            let kind = match item.op {
                Op::Add => CLOUDEVENT_TYPE_ADD,
                Op::Remove => CLOUDEVENT_TYPE_REMOVE,
            };
            json!({
                "specversion": "1.0",
                "id": item.seq.to_string(),
                "source": CLOUDEVENT_SOURCE,
                "type": kind,
                "time": hlc::rfc3339_from_ms(hlc::millis(item.time)),
                "datacontenttype": "application/json",
                "ledgraphseq": item.seq,
                "ledgraphtxend": item.ends_transaction,
                "data": data,
            })
            .to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxrdf::{Literal, NamedNode, Quad};

    fn item(op: Op) -> BusItem {
        let iri = |s: &str| NamedNode::new_unchecked(s);
        BusItem {
            seq: 7,
            op,
            quad: Quad::new(
                iri("https://e.org/s"),
                iri("https://e.org/p"),
                Literal::new_simple_literal("a \"quoted\" value"),
                GraphName::DefaultGraph,
            ),
            time: (1_709_210_096_789 << hlc::COUNTER_BITS) | 3,
            ends_transaction: true,
        }
    }

    #[test]
    fn a_cloudevent_carries_the_position_time_and_a_republishable_json_event() {
        let text = render(&item(Op::Remove), Format::CloudEvents);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["id"], "7");
        assert_eq!(value["type"], CLOUDEVENT_TYPE_REMOVE);
        assert_eq!(value["time"], "2024-02-29T12:34:56.789Z");
        assert_eq!(value["ledgraphseq"], 7);
        assert_eq!(value["data"]["o"], "\"a \\\"quoted\\\" value\"");
        // What a subscriber receives is valid publish input for another node.
        let changes = crate::event::cloudevents::parse_cloudevent(text.as_bytes()).unwrap();
        assert_eq!(changes, vec![(Op::Remove, item(Op::Remove).quad)]);
    }

    #[test]
    fn the_format_parameter_wins_over_accept_and_unknown_formats_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, "application/rdf-patch".parse().unwrap());
        assert_eq!(
            Format::choose(Some("cloudevents"), &headers).unwrap(),
            Format::CloudEvents
        );
        assert_eq!(Format::choose(None, &headers).unwrap(), Format::RdfPatch);
        assert!(Format::choose(Some("xml"), &headers).is_err());
    }
}
