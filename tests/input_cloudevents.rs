//! CloudEvents 1.0 JSON input: one event and batches, every `datacontenttype`, `data` and
//! `data_base64`, and every error naming the event index and attribute.

use base64::Engine;
use ledgraph::event::Op;
use ledgraph::event::cloudevents::{
    CLOUDEVENTS_BATCH_EVENTS_MAX, parse_cloudevent, parse_cloudevents_batch,
};
use ledgraph::event::input::{InputError, Position, parse_json_events};
use oxrdf::{GraphName, Literal, NamedNode, Quad};
use serde_json::{Value, json};

const NT: &str = "<https://e.org/s> <https://e.org/p> \"nt\" .\n";

fn envelope(extra: Value) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/sensors/7",
        "type": "org.example.reading",
    });
    if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
        event.extend(extra);
    }
    event
}

fn one(event: &Value) -> Result<Vec<(Op, Quad)>, InputError> {
    parse_cloudevent(event.to_string().as_bytes())
}

fn batch(events: &[Value]) -> Result<Vec<(Op, Quad)>, InputError> {
    parse_cloudevents_batch(Value::Array(events.to_vec()).to_string().as_bytes())
}

fn ok(result: Result<Vec<(Op, Quad)>, InputError>) -> Vec<(Op, Quad)> {
    result.unwrap_or_else(|e| panic!("rejected: {e}"))
}

fn err(result: Result<Vec<(Op, Quad)>, InputError>) -> InputError {
    match result {
        Ok(changes) => panic!("accepted {changes:?}"),
        Err(e) => e,
    }
}

fn field(index: usize, field: &'static str) -> Position {
    Position::Field { index, field }
}

fn nt_quad(object: &str) -> Quad {
    Quad::new(
        NamedNode::new("https://e.org/s").unwrap(),
        NamedNode::new("https://e.org/p").unwrap(),
        Literal::new_simple_literal(object),
        GraphName::DefaultGraph,
    )
}

fn json_event(op: &str, object: &str) -> Value {
    json!({"op": op, "s": "<https://e.org/s>", "p": "<https://e.org/p>", "o": format!("\"{object}\"")})
}

#[test]
fn json_data_is_a_list_of_events_or_one_event_by_default() {
    let list = envelope(json!({"data": [json_event("add", "a"), json_event("remove", "b")]}));
    assert_eq!(
        ok(one(&list)),
        [(Op::Add, nt_quad("a")), (Op::Remove, nt_quad("b"))]
    );
    let single = envelope(json!({
        "datacontenttype": "application/json",
        "data": json_event("remove", "c"),
    }));
    assert_eq!(ok(one(&single)), [(Op::Remove, nt_quad("c"))]);
}

#[test]
fn text_formats_are_read_from_a_data_string() {
    let cases = [
        ("application/n-triples", NT.to_owned()),
        (
            "text/turtle",
            "@prefix e: <https://e.org/> . e:s e:p \"nt\" .".to_owned(),
        ),
        (
            "application/n-quads",
            "<https://e.org/s> <https://e.org/p> \"nt\" .".to_owned(),
        ),
        ("application/rdf-patch", format!("TX .\nA {NT}TC .\n")),
    ];
    for (media_type, text) in cases {
        let event = envelope(json!({"datacontenttype": media_type, "data": text}));
        assert_eq!(ok(one(&event)), [(Op::Add, nt_quad("nt"))], "{media_type}");
    }
}

#[test]
fn rdf_patch_data_carries_removes_and_named_graphs() {
    let patch = "PA e <https://e.org/> .\nD e:s e:p \"old\" e:g .\nA e:s e:p \"new\" .\n";
    let event = envelope(json!({"datacontenttype": "application/rdf-patch", "data": patch}));
    let changes = ok(one(&event));
    assert_eq!(changes[0].0, Op::Remove);
    assert_eq!(
        changes[0].1.graph_name,
        GraphName::from(NamedNode::new("https://e.org/g").unwrap())
    );
    assert_eq!(changes[1], (Op::Add, nt_quad("new")));
}

#[test]
fn data_base64_carries_any_format_as_bytes() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let json_data = Value::Array(vec![json_event("add", "nt")]).to_string();
    for (media_type, bytes) in [
        ("application/n-triples", NT.as_bytes()),
        ("application/json", json_data.as_bytes()),
    ] {
        let event = envelope(json!({"datacontenttype": media_type, "data_base64": b64(bytes)}));
        assert_eq!(ok(one(&event)), [(Op::Add, nt_quad("nt"))], "{media_type}");
    }
}

#[test]
fn media_type_parameters_and_case_are_ignored() {
    let event = envelope(json!({
        "datacontenttype": "Application/N-Triples; charset=utf-8",
        "data": NT,
    }));
    assert_eq!(ok(one(&event)).len(), 1);
}

#[test]
fn optional_and_extension_attributes_are_accepted() {
    let event = envelope(json!({
        "time": "2024-05-01T12:00:00Z",
        "subject": "sensor-7",
        "dataschema": "https://e.org/schema",
        "traceparent": "00-abc-01",
        "partitionkey2": 7,
        "sampled": true,
        "data": [json_event("add", "x")],
    }));
    assert_eq!(ok(one(&event)).len(), 1);
}

#[test]
fn a_batch_concatenates_its_events_in_order() {
    let events = [
        envelope(json!({"data": [json_event("add", "1")]})),
        envelope(json!({"id": "evt-2", "datacontenttype": "application/n-triples", "data": NT})),
        envelope(json!({"id": "evt-3", "data": json_event("remove", "1")})),
    ];
    assert_eq!(
        ok(batch(&events)),
        [
            (Op::Add, nt_quad("1")),
            (Op::Add, nt_quad("nt")),
            (Op::Remove, nt_quad("1"))
        ]
    );
    assert!(ok(batch(&[])).is_empty());
}

#[test]
fn a_bad_attribute_in_a_batch_names_the_event_index_and_attribute() {
    let mut events: Vec<Value> = (0..3)
        .map(|_| envelope(json!({"data": [json_event("add", "x")]})))
        .collect();
    events[2]["specversion"] = json!("0.3");
    let e = err(batch(&events));
    assert_eq!(e.position, field(2, "specversion"));
    assert_eq!(
        e.to_string(),
        "event 2, field \"specversion\": unsupported specversion \"0.3\": expected \"1.0\""
    );
}

#[test]
fn required_attributes_must_be_present_non_empty_strings() {
    for name in ["specversion", "id", "source", "type"] {
        let mut event = envelope(json!({"data": [json_event("add", "x")]}));
        let Value::Object(map) = &mut event else {
            unreachable!()
        };
        map.remove(name);
        let e = err(one(&event));
        assert_eq!(e.position, field(0, name));
        assert!(e.message.contains("missing required attribute"), "{e}");

        event[name] = json!(1);
        assert!(err(one(&event)).message.contains("must be a string"));
        event[name] = json!("");
        assert!(err(one(&event)).message.contains("must not be empty"));
    }
}

#[test]
fn optional_attributes_must_be_strings() {
    for name in ["datacontenttype", "dataschema", "subject", "time"] {
        let event = envelope(json!({name: 5, "data": [json_event("add", "x")]}));
        let e = err(one(&event));
        assert_eq!(e.position, field(0, name), "{e}");
    }
}

#[test]
fn badly_named_or_structured_extensions_are_rejected() {
    for (name, value) in [
        ("TraceParent", json!("x")),
        ("trace_parent", json!("x")),
        ("abcdefghijklmnopqrstu", json!("x")),
        ("nested", json!({"a": 1})),
        ("list", json!([1])),
    ] {
        let event = envelope(json!({name: value, "data": [json_event("add", "x")]}));
        let e = err(one(&event));
        assert_eq!(e.position, Position::Event { index: 0 }, "{name}: {e}");
        assert!(e.message.contains(name), "{e}");
    }
}

#[test]
fn data_errors_name_the_attribute() {
    let cases = [
        (
            json!({"data": [json_event("add", "x")], "data_base64": "AA=="}),
            field(0, "data_base64"),
            "not both",
        ),
        (json!({}), field(0, "data"), "carries no changes"),
        (
            json!({"data": null}),
            field(0, "data"),
            "carries no changes",
        ),
        (
            json!({"datacontenttype": "application/xml", "data": "<a/>"}),
            field(0, "datacontenttype"),
            "unsupported",
        ),
        (
            json!({"datacontenttype": "application/n-triples", "data": [1]}),
            field(0, "data"),
            "must be a JSON string",
        ),
        (
            json!({"data": "[]"}),
            field(0, "data"),
            "must be an array of events",
        ),
        (
            json!({"data_base64": "not base64!"}),
            field(0, "data_base64"),
            "not base64",
        ),
        (
            json!({"data_base64": 12}),
            field(0, "data_base64"),
            "must be a base64 string",
        ),
    ];
    for (extra, position, needle) in cases {
        let e = err(one(&envelope(extra.clone())));
        assert_eq!(e.position, position, "{extra}: {e}");
        assert!(e.message.contains(needle), "{extra}: {e}");
    }
}

#[test]
fn errors_inside_data_carry_the_inner_position() {
    let mut bad_term = json_event("add", "x");
    bad_term["s"] = json!("\"literal subject\"");
    let event = envelope(json!({"data": [json_event("add", "ok"), bad_term]}));
    let e = err(batch(&[envelope(json!({"data": []})), event]));
    assert_eq!(
        e.position,
        Position::InField {
            index: 1,
            field: "data",
            inner: Box::new(field(1, "s")),
        }
    );
    assert!(
        e.to_string()
            .starts_with("event 1, field \"data\" at event 1, field \"s\": ")
    );

    let nt = format!("{NT}<https://e.org/s> <bad iri> 1 .\n");
    let event = envelope(json!({"datacontenttype": "application/n-triples", "data": nt}));
    let e = err(one(&event));
    let Position::InField {
        index: 0,
        field: "data",
        inner,
    } = &e.position
    else {
        panic!("{e}")
    };
    assert!(
        matches!(**inner, Position::LineColumn { line: 2, .. }),
        "{e}"
    );

    let b64 = base64::engine::general_purpose::STANDARD.encode("TX .\n");
    let event = envelope(json!({"datacontenttype": "application/rdf-patch", "data_base64": b64}));
    let e = err(one(&event));
    assert_eq!(
        e.position,
        Position::InField {
            index: 0,
            field: "data_base64",
            inner: Box::new(Position::LineColumn { line: 1, column: 1 }),
        }
    );
}

#[test]
fn malformed_json_and_wrong_shapes_are_errors() {
    let e = err(parse_cloudevent(b"{\"specversion\": \"1.0\",\n  \"id\": }"));
    assert_eq!(e.position, Position::LineColumn { line: 2, column: 9 });
    let e = err(parse_cloudevent(b"[]"));
    assert_eq!(e.position, Position::Event { index: 0 });
    assert!(e.message.contains("cloudevents-batch+json"), "{e}");
    let e = err(parse_cloudevents_batch(b"{}"));
    assert!(e.message.contains("must be a JSON array"), "{e}");
    let e = err(parse_cloudevents_batch(b"[{}, 3]"));
    assert_eq!(e.position, field(0, "specversion"));
    let valid = envelope(json!({"data": []}));
    let e = err(batch(&[valid, json!("event")]));
    assert_eq!(e.position, Position::Event { index: 1 });
    assert!(err(parse_cloudevent(b"")).message.contains("EOF"));
    assert!(
        err(parse_cloudevent(&[0xff, 0xfe]))
            .message
            .contains("expected value")
    );
}

#[test]
fn a_batch_over_the_event_limit_is_rejected_before_reading_events() {
    let text = format!("[{}{{}}]", "{},".repeat(CLOUDEVENTS_BATCH_EVENTS_MAX));
    let e = err(parse_cloudevents_batch(text.as_bytes()));
    assert!(e.message.contains("CloudEvents in one batch"), "{e}");
}

#[test]
fn json_events_accept_one_object_and_name_bad_fields() {
    let one_event = json_event("add", "x").to_string();
    assert_eq!(ok(parse_json_events(one_event.as_bytes())).len(), 1);
    let cases = [
        (json!([{"op": "add"}]), field(0, "s"), "missing"),
        (
            json!([json_event("add", "x"), {"op": "add", "s": 1}]),
            field(1, "s"),
            "must be a string",
        ),
        (
            json!([{"op": "add", "s": "<https://e.org/s>", "p": "<https://e.org/p>", "o": "1", "x": 1}]),
            Position::Event { index: 0 },
            "unknown field \"x\"",
        ),
        (
            json!([7]),
            Position::Event { index: 0 },
            "must be an object",
        ),
        (
            json!("text"),
            Position::LineColumn { line: 1, column: 1 },
            "expected a JSON array",
        ),
    ];
    for (value, position, needle) in cases {
        let e = err(parse_json_events(value.to_string().as_bytes()));
        assert_eq!(e.position, position, "{value}: {e}");
        assert!(e.message.contains(needle), "{value}: {e}");
    }
    let with_null_graph = json!([{"op": "add", "s": "<https://e.org/s>", "p": "<https://e.org/p>", "o": "\"nt\"", "g": null}]);
    assert_eq!(
        ok(parse_json_events(with_null_graph.to_string().as_bytes())),
        [(Op::Add, nt_quad("nt"))]
    );
}
