//! `POST /v1/events`: every media type appends one signed, durable transaction that the state
//! projection then serves; every kind of bad request appends nothing.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{TestServer, request};
use ledgraph::event::Op;
use ledgraph::event::input::parse_nquads;
use ledgraph::log::SignedCheckpoint;
use oxrdf::{GraphName, Quad};

/// Publishes `body` as `media_type` and checks the whole contract: 201, the response fields,
/// the checkpoint, the logged events (in order, one transaction), and the SPARQL state.
async fn publish_and_check(media_type: &str, body: &str, expected_nquads: &str) {
    let server = TestServer::start();
    let expected: Vec<(Op, Quad)> =
        parse_nquads(expected_nquads.as_bytes()).expect("expected quads");
    let before = server.log_size();

    let reply = server.post("/v1/events", media_type, body.to_owned()).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{media_type}: {}",
        reply.text()
    );
    assert_eq!(reply.media_type(), "application/json");
    let json = reply.json();
    let count = expected.len() as u64;
    assert_eq!(json["first_seq"], before, "{json}");
    assert_eq!(json["count"], count, "{json}");
    assert_eq!(json["last_seq"], before + count - 1, "{json}");
    let tree_size = json["tree_size"].as_u64().expect("tree_size");
    let note = json["checkpoint"].as_str().expect("checkpoint note");
    let checkpoint = SignedCheckpoint::verify(note, server.state.log.verifier())
        .unwrap_or_else(|e| panic!("{media_type}: the checkpoint does not verify: {e}\n{note}"));
    assert_eq!(checkpoint.checkpoint.size, tree_size);
    assert!(
        tree_size > before + count - 1,
        "the checkpoint must cover last_seq"
    );
    let root = server
        .state
        .log
        .root_at(tree_size)
        .expect("root at tree_size");
    assert_eq!(
        checkpoint.checkpoint.root, root,
        "checkpoint root = the log's root"
    );

    assert_eq!(server.log_size(), before + count);
    assert_eq!(
        server.changes_from(before),
        expected,
        "{media_type}: logged changes"
    );
    let ends = server.transaction_ends_from(before);
    let mut one_transaction = vec![false; expected.len()];
    if let Some(last) = one_transaction.last_mut() {
        *last = true;
    }
    assert_eq!(
        ends, one_transaction,
        "{media_type}: one request is one transaction"
    );

    server.caught_up().await;
    for (_, quad) in &expected {
        let pattern = format!("{} {} {}", quad.subject, quad.predicate, quad.object);
        let query = match &quad.graph_name {
            GraphName::DefaultGraph => format!("ASK {{ {pattern} }}"),
            g => format!("ASK {{ GRAPH {g} {{ {pattern} }} }}"),
        };
        assert!(
            server.ask(&query).await,
            "{media_type}: not queryable: {query}"
        );
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_events_are_appended_signed_and_queryable() {
    let body = r#"[
        {"op": "add", "s": "<https://example.org/json/s>", "p": "<https://example.org/p>", "o": "\"one\""},
        {"op": "add", "s": "<https://example.org/json/s>", "p": "<https://example.org/p>", "o": "\"two\"@en",
         "g": "<https://example.org/json/g>"},
        {"op": "add", "s": "<https://example.org/json/s>", "p": "<https://example.org/n>",
         "o": "\"3\"^^<http://www.w3.org/2001/XMLSchema#integer>"}
    ]"#;
    let expected = "<https://example.org/json/s> <https://example.org/p> \"one\" .\n\
        <https://example.org/json/s> <https://example.org/p> \"two\"@en <https://example.org/json/g> .\n\
        <https://example.org/json/s> <https://example.org/n> \"3\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n";
    publish_and_check("application/json", body, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_triples_are_appended_signed_and_queryable() {
    let body = "<https://example.org/nt/s> <https://example.org/p> \"nt\" .\n\
        # a comment\n\
        <https://example.org/nt/s> <https://example.org/q> <https://example.org/nt/o> .\n";
    let expected = "<https://example.org/nt/s> <https://example.org/p> \"nt\" .\n\
        <https://example.org/nt/s> <https://example.org/q> <https://example.org/nt/o> .\n";
    publish_and_check("application/n-triples", body, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turtle_is_appended_signed_and_queryable() {
    let body = "@prefix ex: <https://example.org/ttl/> .\nex:s ex:p \"ttl\", 42 ;\n  ex:q ex:o .\n";
    let expected = "<https://example.org/ttl/s> <https://example.org/ttl/p> \"ttl\" .\n\
        <https://example.org/ttl/s> <https://example.org/ttl/p> \"42\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n\
        <https://example.org/ttl/s> <https://example.org/ttl/q> <https://example.org/ttl/o> .\n";
    publish_and_check("text/turtle; charset=utf-8", body, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdf_patch_is_appended_signed_and_queryable() {
    let body = "H id <uuid:0686c69d-8f89-4496-acb5-744f0157a8db> .\n\
        TX .\n\
        PA \"ex\" <https://example.org/patch/> .\n\
        A ex:s ex:p \"patch\" .\n\
        A ex:s ex:p \"in a graph\" ex:g .\n\
        TC .\n";
    let expected = "<https://example.org/patch/s> <https://example.org/patch/p> \"patch\" .\n\
        <https://example.org/patch/s> <https://example.org/patch/p> \"in a graph\" <https://example.org/patch/g> .\n";
    publish_and_check("application/rdf-patch", body, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudevent_is_appended_signed_and_queryable() {
    let body = r#"{"specversion": "1.0", "id": "1", "source": "/tests", "type": "org.example.reading",
        "datacontenttype": "application/n-triples",
        "data": "<https://example.org/ce/s> <https://example.org/p> \"ce\" ."}"#;
    let expected = "<https://example.org/ce/s> <https://example.org/p> \"ce\" .\n";
    publish_and_check("application/cloudevents+json", body, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudevents_batch_is_appended_as_one_transaction() {
    let body = r#"[
        {"specversion": "1.0", "id": "1", "source": "/tests", "type": "t",
         "data": [{"op": "add", "s": "<https://example.org/ceb/s>", "p": "<https://example.org/p>", "o": "\"json\""}]},
        {"specversion": "1.0", "id": "2", "source": "/tests", "type": "t", "datacontenttype": "text/turtle",
         "data": "<https://example.org/ceb/s> <https://example.org/p> \"turtle\" ."}
    ]"#;
    let expected = "<https://example.org/ceb/s> <https://example.org/p> \"json\" .\n\
        <https://example.org/ceb/s> <https://example.org/p> \"turtle\" .\n";
    publish_and_check("application/cloudevents-batch+json", body, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_removes_take_triples_out_of_the_state() {
    let server = TestServer::start();
    let triple =
        r#"{"s": "<https://example.org/r/s>", "p": "<https://example.org/p>", "o": "\"v\""}"#;
    let add = format!("[{}]", triple.replacen('{', r#"{"op": "add", "#, 1));
    let remove = format!("[{}]", triple.replacen('{', r#"{"op": "remove", "#, 1));
    server.publish("application/json", &add).await;
    server.caught_up().await;
    let ask = "ASK { <https://example.org/r/s> <https://example.org/p> \"v\" }";
    assert!(server.ask(ask).await);
    let json = server.publish("application/json", &remove).await;
    assert_eq!(json["first_seq"], 1);
    assert_eq!(server.events_from(1)[0].op, Op::Remove);
    server.caught_up().await;
    assert!(
        !server.ask(ask).await,
        "the removed triple is still in the state"
    );
    server.close().await;
}

/// Sends `body` as `media_type`, expects `status`, and checks nothing was appended.
async fn rejected(
    server: &TestServer,
    media_type: Option<&str>,
    body: &str,
    status: StatusCode,
) -> serde_json::Value {
    let before = server.log_size();
    let headers: Vec<(&str, &str)> = media_type
        .map(|m| ("content-type", m))
        .into_iter()
        .collect();
    let reply = server
        .send(request(
            "POST",
            "/v1/events",
            &headers,
            Body::from(body.to_owned()),
        ))
        .await;
    assert_eq!(
        reply.status,
        status,
        "{media_type:?} {body:?}: {}",
        reply.text()
    );
    let json = reply.assert_error(status);
    assert_eq!(
        server.log_size(),
        before,
        "a rejected request appended events"
    );
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_of_every_media_type_are_400_with_a_position() {
    let server = TestServer::start();
    let cases: &[(&str, &str, Option<&str>)] = &[
        // (media type, body, expected position prefix)
        (
            "application/json",
            r#"[{"op": "add", "s": "<https://e.org/s>""#,
            None,
        ),
        (
            "application/json",
            r#"[{"op": "add", "s": "not a term", "p": "<https://e.org/p>", "o": "\"x\""}]"#,
            Some("event 0, field \"s\""),
        ),
        (
            "application/json",
            r#"[{"op": "add", "s": "<https://e.org/s>", "p": "<https://e.org/p>", "o": "\"x\""},
                {"op": "upsert", "s": "<https://e.org/s>", "p": "<https://e.org/p>", "o": "\"x\""}]"#,
            Some("event 1, field \"op\""),
        ),
        (
            "application/n-triples",
            "<https://e.org/s> <https://e.org/p> \"ok\" .\n<https://e.org/s> <https://e.org/p> \"two\" \"objects\" .\n",
            Some("2:"),
        ),
        (
            "text/turtle",
            "@prefix ex: <https://e.org/> .\nex:s ex:p .\n",
            Some("2:"),
        ),
        (
            "application/rdf-patch",
            "TX .\nA <https://e.org/s> <https://e.org/p> .\nTC .\n",
            Some("2:"),
        ),
        (
            "application/rdf-patch",
            "TX .\nA <https://e.org/s> <https://e.org/p> \"o\" .\n",
            None,
        ),
        (
            "application/cloudevents+json",
            r#"{"id": "1", "source": "/s", "type": "t", "data": []}"#,
            Some("event 0, field \"specversion\""),
        ),
        (
            "application/cloudevents-batch+json",
            r#"[{"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
                 "data": [{"op": "add", "s": "<https://e.org/s>", "p": "<https://e.org/p>", "o": "\"x\""}]},
                {"specversion": "0.3", "id": "2", "source": "/s", "type": "t", "data": []}]"#,
            Some("event 1, field \"specversion\""),
        ),
        (
            "application/cloudevents-batch+json",
            r#"{"not": "an array"}"#,
            None,
        ),
    ];
    for (media_type, body, position) in cases {
        let json = rejected(&server, Some(media_type), body, StatusCode::BAD_REQUEST).await;
        let found = json["position"]
            .as_str()
            .unwrap_or_else(|| panic!("{media_type} {body:?}: no position in {json}"));
        if let Some(prefix) = position {
            assert!(
                found.starts_with(prefix),
                "{media_type} {body:?}: position {found:?}, expected {prefix:?}…"
            );
        }
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_iris_are_400() {
    let server = TestServer::start();
    let cases: &[(&str, &str)] = &[
        (
            "application/n-triples",
            "<https://e.org/has space> <https://e.org/p> \"x\" .\n",
        ),
        (
            "application/n-triples",
            "<relative> <https://e.org/p> \"x\" .\n",
        ),
        (
            "text/turtle",
            "<https://e.org/s> <https://e.org/p> <https://e.org/a{b}> .\n",
        ),
        (
            "application/json",
            r#"[{"op": "add", "s": "<not absolute>", "p": "<https://e.org/p>", "o": "\"x\""}]"#,
        ),
        (
            "application/json",
            r#"[{"op": "add", "s": "<https://e.org/s>", "p": "<https://e.org/p>", "o": "\"x\"", "g": "<a b>"}]"#,
        ),
        (
            "application/rdf-patch",
            "TX .\nA <https://e.org/s> <https://e.org/p x> \"o\" .\nTC .\n",
        ),
    ];
    for (media_type, body) in cases {
        rejected(&server, Some(media_type), body, StatusCode::BAD_REQUEST).await;
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_missing_content_type_is_415() {
    let server = TestServer::start();
    let body = "<https://e.org/s> <https://e.org/p> \"x\" .\n";
    for media_type in [
        Some("application/xml"),
        Some("image/png"),
        Some("application/sparql-update"),
        None,
    ] {
        rejected(
            &server,
            media_type,
            body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        )
        .await;
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charset_other_than_utf8_is_415() {
    let server = TestServer::start();
    let body = "<https://e.org/s> <https://e.org/p> \"x\" .\n";
    rejected(
        &server,
        Some("application/n-triples; charset=UTF-16"),
        body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_request_limit_is_413() {
    let server = TestServer::start_with(|c| c.limits.request_body_bytes_max = 1024);
    let line = "<https://example.org/s> <https://example.org/p> \"0123456789\" .\n";
    let small = line.repeat(1024 / line.len());
    assert!(small.len() <= 1024);
    server.publish("application/n-triples", &small).await;
    let large = line.repeat(2048 / line.len() + 1);
    rejected(
        &server,
        Some("application/n-triples"),
        &large,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_events_than_a_batch_may_hold_is_413() {
    let server = TestServer::start_with(|c| c.log.batch_events_max = 5);
    assert_eq!(server.state.log.config().batch_events_max, 5);
    let lines = |n: usize| -> String {
        (0..n)
            .map(|i| format!("<https://example.org/s{i}> <https://example.org/p> \"{i}\" .\n"))
            .collect()
    };
    let json = server.publish("application/n-triples", &lines(5)).await;
    assert_eq!(json["count"], 5, "exactly the limit is accepted");
    rejected(
        &server,
        Some("application/n-triples"),
        &lines(6),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_body_is_400_for_every_media_type() {
    let server = TestServer::start();
    for media_type in [
        "application/json",
        "application/n-triples",
        "text/turtle",
        "application/rdf-patch",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
    ] {
        rejected(&server, Some(media_type), "", StatusCode::BAD_REQUEST).await;
    }
    // Well-formed but without a single change.
    for (media_type, body) in [
        ("application/json", "[]"),
        ("application/n-triples", "# only a comment\n"),
        ("text/turtle", "@prefix ex: <https://e.org/> .\n"),
        ("application/rdf-patch", "TX .\nTC .\n"),
        ("application/cloudevents-batch+json", "[]"),
    ] {
        rejected(&server, Some(media_type), body, StatusCode::BAD_REQUEST).await;
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_nodes_come_back_skolemized() {
    let server = TestServer::start();
    let genid = format!(
        "{}/.well-known/genid/",
        server.state.genid_base.trim_end_matches('/')
    );
    let body = "_:a <https://example.org/knows> _:b .\n_:b <https://example.org/knows> _:a .\n";
    server.publish("application/n-triples", body).await;
    server.publish("application/n-triples", body).await;
    let events = server.events_from(0);
    assert_eq!(events.len(), 4);
    let iri = |t: String| -> String {
        let inner = t
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or_else(|| panic!("not an IRI: {t}"));
        assert!(inner.starts_with(&genid), "{inner} is not under {genid}");
        inner.to_owned()
    };
    let nodes: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                iri(e.quad.subject.to_string()),
                iri(e.quad.object.to_string()),
            )
        })
        .collect();
    // Within one request a label keeps its identity…
    assert_eq!(nodes[0].0, nodes[1].1);
    assert_eq!(nodes[0].1, nodes[1].0);
    assert_ne!(nodes[0].0, nodes[0].1);
    // …and two requests never share a Skolem IRI.
    assert_ne!(nodes[0].0, nodes[2].0);
    assert_ne!(nodes[0].1, nodes[2].1);

    // The JSON and RDF Patch parsers' blank nodes are skolemized the same way.
    let before = server.log_size();
    server
        .publish(
            "application/json",
            r#"[{"op": "add", "s": "_:x", "p": "<https://example.org/p>", "o": "\"v\"", "g": "<https://example.org/g>"}]"#,
        )
        .await;
    server
        .publish(
            "application/rdf-patch",
            "TX .\nA _:y <https://example.org/p> \"w\" .\nTC .\n",
        )
        .await;
    for event in server.events_from(before) {
        iri(event.quad.subject.to_string());
    }

    server.caught_up().await;
    let blank =
        "ASK { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } FILTER(isBlank(?s) || isBlank(?o)) }";
    assert!(!server.ask(blank).await, "a blank node reached the state");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_into_the_graphs_ledgraph_maintains_are_400() {
    let server = TestServer::start();
    let mut accepted = Vec::new();
    for graph in [ledgraph::store::EVENT_GRAPH, ledgraph::store::META_GRAPH] {
        let json = format!(
            r#"[{{"op": "add", "s": "<urn:ledgraph:projection:state>", "p": "<https://ledgraph.dev/ns#appliedSize>",
                 "o": "\"0\"^^<http://www.w3.org/2001/XMLSchema#integer>", "g": "<{graph}>"}}]"#
        );
        let patch = format!(
            "TX .\nA <https://example.org/s> <https://example.org/p> \"x\" <{graph}> .\nTC .\n"
        );
        for (media_type, body) in [("application/json", json), ("application/rdf-patch", patch)] {
            let before = server.log_size();
            let reply = server.post("/v1/events", media_type, body).await;
            if reply.status != StatusCode::BAD_REQUEST {
                accepted.push(format!(
                    "{media_type} into {graph} -> {} (appended {} events)",
                    reply.status,
                    server.log_size() - before
                ));
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "events naming a reserved graph must be 400; these were not:\n{}",
        accepted.join("\n")
    );
    server.close().await;
}
