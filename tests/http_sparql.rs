//! The SPARQL 1.1 Protocol: queries (GET, form POST, direct POST) with content negotiation and
//! a time limit, protocol errors, the service description, and updates that become one log
//! transaction each.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{Reply, TestServer, encode, request};
use ledgraph::event::Op;
use ledgraph::log::SignedCheckpoint;
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::Quad;

const EX: &str = "https://example.org/";
const PEOPLE_TTL: &str = "@prefix ex: <https://example.org/> .\n\
    ex:alice ex:name \"Alice\" ; ex:knows ex:bob .\n\
    ex:bob ex:name \"Bob\" .\n";
const NAMED_GRAPHS_JSON: &str = r#"[
    {"op": "add", "s": "<https://example.org/carol>", "p": "<https://example.org/name>", "o": "\"Carol\"",
     "g": "<https://example.org/g1>"},
    {"op": "add", "s": "<https://example.org/dave>", "p": "<https://example.org/name>", "o": "\"Dave\"",
     "g": "<https://example.org/g2>"}
]"#;
const NAMES: &str = "SELECT ?name WHERE { ?s <https://example.org/name> ?name }";

/// Alice and Bob in the default graph, Carol in g1, Dave in g2; the state caught up.
async fn server_with_people() -> TestServer {
    server_with_people_and(|_| {}).await
}

async fn server_with_people_and(
    adjust: impl FnOnce(&mut ledgraph::http::server::ServerConfig),
) -> TestServer {
    let server = TestServer::start_with(adjust);
    server.publish("text/turtle", PEOPLE_TTL).await;
    server.publish("application/json", NAMED_GRAPHS_JSON).await;
    server.caught_up().await;
    server
}

fn names_of(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.media_type(), "application/sparql-results+json");
    let json = reply.json();
    let mut names: Vec<String> = json["results"]["bindings"]
        .as_array()
        .unwrap_or_else(|| panic!("no bindings: {json}"))
        .iter()
        .filter_map(|b| b["name"]["value"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Whether an error reply says where in the input the problem is (`line:column`).
fn names_position(reply: &Reply, line: u32) -> bool {
    let json = reply.json();
    let position = json["position"].as_str().unwrap_or("");
    let message = json["error"].as_str().unwrap_or("");
    let needle = format!("{line}:");
    position.starts_with(&needle)
        || message
            .match_indices(&needle)
            .any(|(i, _)| i == 0 || !message.as_bytes()[i - 1].is_ascii_digit())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_by_get_form_post_and_direct_post_agree() {
    let server = server_with_people().await;
    for endpoint in ["/sparql", "/query"] {
        let by_get = server
            .get(&format!("{endpoint}?query={}", encode(NAMES)))
            .await;
        let by_form = server
            .post(
                endpoint,
                "application/x-www-form-urlencoded",
                format!("query={}", encode(NAMES)),
            )
            .await;
        let direct = server
            .post(endpoint, "application/sparql-query", NAMES)
            .await;
        for reply in [&by_get, &by_form, &direct] {
            assert_eq!(names_of(reply), ["Alice", "Bob"], "{endpoint}");
        }
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_results_are_negotiated_json_xml_csv_tsv() {
    let server = server_with_people().await;
    let uri = format!("/sparql?query={}", encode(NAMES));
    let cases: &[(&str, &str)] = &[
        (
            "application/sparql-results+json",
            "application/sparql-results+json",
        ),
        (
            "application/sparql-results+xml",
            "application/sparql-results+xml",
        ),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("*/*", "application/sparql-results+json"),
        ("application/sparql-results+xml;q=0.5, text/csv", "text/csv"),
        (
            "text/*;q=0.2, application/sparql-results+xml",
            "application/sparql-results+xml",
        ),
    ];
    for (accept, expected) in cases {
        let reply = server.get_with(&uri, &[("accept", accept)]).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "Accept {accept}: {}",
            reply.text()
        );
        assert_eq!(reply.media_type(), *expected, "Accept {accept}");
        let text = reply.text();
        match *expected {
            "application/sparql-results+json" => assert_eq!(names_of(&reply), ["Alice", "Bob"]),
            "application/sparql-results+xml" => {
                assert!(
                    text.contains("<sparql") && text.contains("Alice") && text.contains("Bob"),
                    "{text}"
                )
            }
            "text/csv" => {
                let mut lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.remove(0), "name", "{text}");
                lines.sort();
                assert_eq!(lines, ["Alice", "Bob"], "{text}");
            }
            "text/tab-separated-values" => {
                let mut lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.remove(0), "?name", "{text}");
                lines.sort();
                assert_eq!(lines, ["\"Alice\"", "\"Bob\""], "{text}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    let ask = server
        .get(&format!(
            "/sparql?query={}",
            encode("ASK { ?s ?p \"Alice\" }")
        ))
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert_eq!(ask.json()["boolean"], true);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn construct_results_are_negotiated_turtle_ntriples_rdfxml_jsonld() {
    let server = server_with_people().await;
    let construct = "CONSTRUCT { ?s <https://example.org/label> ?name } WHERE { ?s <https://example.org/name> ?name }";
    let uri = format!("/sparql?query={}", encode(construct));
    for (accept, expected) in [
        (None, "text/turtle"),
        (Some("text/turtle"), "text/turtle"),
        (Some("application/n-triples"), "application/n-triples"),
        (Some("application/rdf+xml"), "application/rdf+xml"),
        (Some("application/ld+json"), "application/ld+json"),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let reply = server.get_with(&uri, &headers).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "Accept {accept:?}: {}",
            reply.text()
        );
        assert_eq!(reply.media_type(), expected, "Accept {accept:?}");
        let format = RdfFormat::from_media_type(expected).expect("known format");
        let quads: Vec<Quad> = RdfParser::from_format(format)
            .for_slice(&reply.body)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{expected} does not parse: {e}\n{}", reply.text()));
        let mut labels: Vec<String> = quads.iter().map(|q| q.object.to_string()).collect();
        labels.sort();
        assert_eq!(labels, ["\"Alice\"", "\"Bob\""], "{expected}");
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacceptable_accept_is_406() {
    let server = server_with_people().await;
    let select = format!("/sparql?query={}", encode(NAMES));
    let construct = format!("/sparql?query={}", encode("CONSTRUCT WHERE { ?s ?p ?o }"));
    for (uri, accept) in [
        (select.as_str(), "image/png"),
        (select.as_str(), "text/turtle"),
        (construct.as_str(), "application/sparql-results+json"),
        (construct.as_str(), "image/*"),
        ("/sparql", "text/csv"),
    ] {
        let reply = server.get_with(uri, &[("accept", accept)]).await;
        reply.assert_error(StatusCode::NOT_ACCEPTABLE);
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_syntax_error_is_400_naming_the_position() {
    let server = server_with_people().await;
    let bad = "SELECT ?x\nWHERE { ?x ?y }";
    let by_get = server.get(&format!("/sparql?query={}", encode(bad))).await;
    let direct = server.post("/query", "application/sparql-query", bad).await;
    for reply in [&by_get, &direct] {
        reply.assert_error(StatusCode::BAD_REQUEST);
        assert!(
            names_position(reply, 2),
            "no line 2 position in {}",
            reply.text()
        );
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_misuse_is_400() {
    let server = server_with_people().await;
    let before = server.log_size();
    let q = encode("ASK {}");
    let u = encode("INSERT DATA { <https://example.org/x> <https://example.org/p> 1 }");
    let g = encode("not an iri");
    for uri in [
        format!("/sparql?query={q}&update={u}"),
        format!("/sparql?query={q}&query={q}"),
        format!("/query?query={q}&query={q}"),
        format!("/sparql?query={q}&default-graph-uri={g}"),
        format!("/sparql?query={q}&named-graph-uri={g}"),
    ] {
        server.get(&uri).await.assert_error(StatusCode::BAD_REQUEST);
    }
    for body in [
        format!("query={q}&update={u}"),
        format!("query={q}&query={q}"),
        format!("update={u}&update={u}"),
        "neither=1".to_owned(),
    ] {
        server
            .post("/sparql", "application/x-www-form-urlencoded", body.clone())
            .await
            .assert_error(StatusCode::BAD_REQUEST);
    }
    // The update endpoint takes updates only.
    server
        .post(
            "/update",
            "application/x-www-form-urlencoded",
            format!("query={q}"),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(server.log_size(), before);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_media_types_and_charsets_are_415() {
    let server = server_with_people().await;
    let cases: &[(&str, Option<&str>)] = &[
        ("/sparql", Some("text/plain")),
        ("/sparql", Some("application/json")),
        ("/sparql", None),
        ("/query", Some("application/sparql-results+json")),
        ("/update", Some("application/sparql-query")),
        ("/update", None),
        ("/sparql", Some("application/sparql-query; charset=UTF-16")),
        (
            "/sparql",
            Some("application/x-www-form-urlencoded; charset=utf-16"),
        ),
        (
            "/update",
            Some("application/sparql-update; charset=\"UTF-16LE\""),
        ),
    ];
    for (endpoint, media_type) in cases {
        let headers: Vec<(&str, &str)> = media_type
            .map(|m| ("content-type", m))
            .into_iter()
            .collect();
        let reply = server
            .send(request("POST", endpoint, &headers, Body::from("ASK {}")))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST {endpoint} as {media_type:?}: {}",
            reply.text()
        );
        reply.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_sent_with_get_is_405_and_appends_nothing() {
    let server = server_with_people().await;
    let before = server.log_size();
    let u = encode("INSERT DATA { <https://example.org/x> <https://example.org/p> 1 }");
    for uri in [
        format!("/sparql?update={u}"),
        format!("/query?update={u}"),
        format!("/update?update={u}"),
    ] {
        server
            .get(&uri)
            .await
            .assert_error(StatusCode::METHOD_NOT_ALLOWED);
    }
    server
        .get("/update")
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(server.log_size(), before);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_graph_uri_and_named_graph_uri_choose_the_dataset() {
    let server = server_with_people().await;
    let g1 = encode(&format!("{EX}g1"));
    let g2 = encode(&format!("{EX}g2"));
    let q = encode(NAMES);

    let reply = server
        .get(&format!("/sparql?query={q}&default-graph-uri={g1}"))
        .await;
    assert_eq!(names_of(&reply), ["Carol"]);
    let reply = server
        .get(&format!(
            "/sparql?query={q}&default-graph-uri={g1}&default-graph-uri={g2}"
        ))
        .await;
    assert_eq!(
        names_of(&reply),
        ["Carol", "Dave"],
        "the default graph is the merge"
    );
    let reply = server
        .post(
            &format!("/query?default-graph-uri={g2}"),
            "application/sparql-query",
            NAMES,
        )
        .await;
    assert_eq!(
        names_of(&reply),
        ["Dave"],
        "direct POST takes the dataset from the URL"
    );
    let reply = server
        .post(
            "/sparql",
            "application/x-www-form-urlencoded",
            format!("query={q}&default-graph-uri={g1}"),
        )
        .await;
    assert_eq!(
        names_of(&reply),
        ["Carol"],
        "form POST takes the dataset from the body"
    );

    let in_graphs =
        encode("SELECT ?g ?name WHERE { GRAPH ?g { ?s <https://example.org/name> ?name } }");
    let reply = server
        .get(&format!("/sparql?query={in_graphs}&named-graph-uri={g2}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let bindings = reply.json()["results"]["bindings"].clone();
    assert_eq!(bindings.as_array().map(Vec::len), Some(1), "{bindings}");
    assert_eq!(bindings[0]["g"]["value"], format!("{EX}g2"));
    assert_eq!(bindings[0]["name"]["value"], "Dave");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_get_returns_the_service_description() {
    let server = TestServer::start();
    for endpoint in ["/sparql", "/query"] {
        let reply = server
            .get_with(endpoint, &[("host", "kg.example.org:7878")])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.media_type(), "text/turtle");
        let quads: Vec<Quad> = RdfParser::from_format(RdfFormat::Turtle)
            .for_slice(&reply.body)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("the service description does not parse: {e}"));
        let sd = "http://www.w3.org/ns/sparql-service-description#";
        let service = quads
            .iter()
            .find(|q| {
                q.predicate.as_str() == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
                    && q.object.to_string() == format!("<{sd}Service>")
            })
            .unwrap_or_else(|| panic!("no sd:Service in {}", reply.text()));
        let endpoint_iri = format!("<http://kg.example.org:7878{endpoint}>");
        assert_eq!(service.subject.to_string(), endpoint_iri);
        assert!(
            quads
                .iter()
                .any(|q| q.predicate.as_str() == format!("{sd}endpoint")
                    && q.object.to_string() == endpoint_iri),
            "sd:endpoint is the endpoint's URL"
        );
        let ntriples = server
            .get_with(endpoint, &[("accept", "application/n-triples")])
            .await;
        assert_eq!(ntriples.media_type(), "application/n-triples");
        assert!(ntriples.text().contains(&format!("<{sd}Service>")));
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_time_limit_is_503_quickly() {
    let server = TestServer::start_with(|c| c.limits.query_timeout_ms = 100);
    let triples: String = (0..300)
        .map(|i| format!("<https://example.org/s{i}> <https://example.org/p> \"{i}\" .\n"))
        .collect();
    server.publish("application/n-triples", &triples).await;
    server.caught_up().await;
    // 300³ = 27 million solutions: far beyond 100 ms.
    let cross = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }";
    let started = Instant::now();
    let reply = server
        .get(&format!("/sparql?query={}", encode(cross)))
        .await;
    let took = started.elapsed();
    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        took < Duration::from_secs(2),
        "the time limit answered after {took:?}"
    );
    // The server still answers.
    assert!(server.ask("ASK { ?s ?p \"1\" }").await);
    server.close().await;
}

/// The Appended body of an effective update, checked against the log.
fn check_appended(server: &TestServer, reply: &Reply, before: u64, count: u64) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["first_seq"], before, "{json}");
    assert_eq!(json["count"], count, "{json}");
    assert_eq!(json["last_seq"], before + count - 1, "{json}");
    let note = json["checkpoint"].as_str().expect("checkpoint");
    let checkpoint =
        SignedCheckpoint::verify(note, server.state.log.verifier()).expect("checkpoint verifies");
    assert!(checkpoint.checkpoint.size >= before + count);
    assert_eq!(
        server.log_size(),
        before + count,
        "the log grows by the effective changes"
    );
    let mut one_transaction = vec![false; count as usize];
    if let Some(last) = one_transaction.last_mut() {
        *last = true;
    }
    assert_eq!(
        server.transaction_ends_from(before),
        one_transaction,
        "one update, one transaction"
    );
}

/// The logged changes from `before`, as sorted `op s p o g` lines.
fn logged(server: &TestServer, before: u64) -> Vec<String> {
    let mut lines: Vec<String> = server
        .changes_from(before)
        .into_iter()
        .map(|(op, q)| {
            format!(
                "{} {} {} {} {}",
                op.as_str(),
                q.subject,
                q.predicate,
                q.object,
                q.graph_name
            )
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_data_is_appended_as_one_transaction_then_visible() {
    let server = server_with_people().await;
    let before = server.log_size();
    let update = "PREFIX ex: <https://example.org/>\n\
        INSERT DATA { ex:erin ex:name \"Erin\" . ex:erin ex:knows ex:alice . GRAPH ex:g1 { ex:erin ex:age 30 } }";
    let reply = server
        .post("/update", "application/sparql-update", update)
        .await;
    check_appended(&server, &reply, before, 3);
    assert_eq!(
        logged(&server, before),
        [
            "add <https://example.org/erin> <https://example.org/age> \"30\"^^<http://www.w3.org/2001/XMLSchema#integer> <https://example.org/g1>",
            "add <https://example.org/erin> <https://example.org/knows> <https://example.org/alice> DEFAULT",
            "add <https://example.org/erin> <https://example.org/name> \"Erin\" DEFAULT",
        ]
    );
    server.caught_up().await;
    assert_eq!(
        server.select_values(NAMES, "name").await,
        ["Alice", "Bob", "Erin"]
    );
    assert!(
        server
            .ask("ASK { GRAPH <https://example.org/g1> { <https://example.org/erin> ?p 30 } }")
            .await
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_insert_where_appends_its_removes_and_adds() {
    let server = server_with_people().await;
    let before = server.log_size();
    let update = "PREFIX ex: <https://example.org/>\n\
        DELETE { ?s ex:name ?n } INSERT { ?s ex:label ?n } WHERE { ?s ex:name ?n }";
    // Form POST to /sparql is the other way to send an update.
    let reply = server
        .post(
            "/sparql",
            "application/x-www-form-urlencoded",
            format!("update={}", encode(update)),
        )
        .await;
    check_appended(&server, &reply, before, 4);
    assert_eq!(
        logged(&server, before),
        [
            "add <https://example.org/alice> <https://example.org/label> \"Alice\" DEFAULT",
            "add <https://example.org/bob> <https://example.org/label> \"Bob\" DEFAULT",
            "remove <https://example.org/alice> <https://example.org/name> \"Alice\" DEFAULT",
            "remove <https://example.org/bob> <https://example.org/name> \"Bob\" DEFAULT",
        ]
    );
    server.caught_up().await;
    assert!(server.select_values(NAMES, "name").await.is_empty());
    assert_eq!(
        server
            .select_values("SELECT ?l WHERE { ?s <https://example.org/label> ?l }", "l")
            .await,
        ["Alice", "Bob"]
    );
    // The named graphs were not the WHERE's dataset.
    assert!(
        server
            .ask(
                "ASK { GRAPH <https://example.org/g1> { ?s <https://example.org/name> \"Carol\" } }"
            )
            .await
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_appends_a_remove_for_every_triple_of_the_graph() {
    let server = server_with_people().await;
    let before = server.log_size();
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "CLEAR GRAPH <https://example.org/g1>",
        )
        .await;
    check_appended(&server, &reply, before, 1);
    assert_eq!(
        logged(&server, before),
        [
            "remove <https://example.org/carol> <https://example.org/name> \"Carol\" <https://example.org/g1>"
        ]
    );
    let before = server.log_size();
    let reply = server
        .post("/update", "application/sparql-update", "CLEAR DEFAULT")
        .await;
    check_appended(&server, &reply, before, 3);
    assert!(
        server
            .changes_from(before)
            .iter()
            .all(|(op, _)| *op == Op::Remove)
    );
    server.caught_up().await;
    assert!(
        !server.ask("ASK { ?s ?p ?o }").await,
        "the default graph is empty"
    );
    assert!(
        !server
            .ask("ASK { GRAPH <https://example.org/g1> { ?s ?p ?o } }")
            .await
    );
    assert!(
        server
            .ask("ASK { GRAPH <https://example.org/g2> { ?s ?p ?o } }")
            .await
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn using_graph_uri_sets_the_update_s_where_dataset() {
    let server = server_with_people().await;
    let before = server.log_size();
    let update =
        "INSERT { ?s <https://example.org/seen> true } WHERE { ?s <https://example.org/name> ?n }";
    let reply = server
        .post(
            &format!("/update?using-graph-uri={}", encode(&format!("{EX}g1"))),
            "application/sparql-update",
            update,
        )
        .await;
    check_appended(&server, &reply, before, 1);
    assert_eq!(
        logged(&server, before),
        [
            "add <https://example.org/carol> <https://example.org/seen> \"true\"^^<http://www.w3.org/2001/XMLSchema#boolean> DEFAULT"
        ]
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_without_effect_is_204_and_appends_nothing() {
    let server = server_with_people().await;
    let before = server.log_size();
    for update in [
        "INSERT DATA { <https://example.org/alice> <https://example.org/name> \"Alice\" }",
        "DELETE DATA { <https://example.org/nobody> <https://example.org/name> \"Nobody\" }",
        "DELETE WHERE { ?s <https://example.org/unused> ?o }",
        "CLEAR GRAPH <https://example.org/empty>",
        "CREATE SILENT GRAPH <https://example.org/new>",
    ] {
        let reply = server
            .post("/update", "application/sparql-update", update)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{update}: {}",
            reply.text()
        );
        assert!(reply.body.is_empty(), "a 204 has no body");
        assert_eq!(server.log_size(), before, "{update} appended events");
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_updates_are_400_and_append_nothing() {
    let server = server_with_people().await;
    let before = server.log_size();
    for update in [
        "LOAD <https://example.org/data.ttl>",
        "LOAD SILENT <https://example.org/data.ttl> INTO GRAPH <https://example.org/g9>",
        "INSERT DATA { GRAPH <urn:ledgraph:log> { <https://example.org/s> <https://example.org/p> 1 } }",
        "INSERT DATA { GRAPH <urn:ledgraph:meta> { <https://example.org/s> <https://example.org/p> 1 } }",
        "CLEAR GRAPH <urn:ledgraph:log>",
        "DROP GRAPH <urn:ledgraph:meta>",
    ] {
        let reply = server
            .post("/update", "application/sparql-update", update)
            .await;
        reply.assert_error(StatusCode::BAD_REQUEST);
        assert_eq!(server.log_size(), before, "{update} appended events");
    }
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "INSERT DATA {\n  <https://example.org/s> <https://example.org/p> }",
        )
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST);
    assert!(
        names_position(&reply, 2),
        "no line 2 position in {}",
        reply.text()
    );
    assert_eq!(server.log_size(), before);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_sees_events_published_just_before_it() {
    let server = TestServer::start();
    server
        .publish(
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"fresh\" .\n",
        )
        .await;
    // No wait for the projection: the update must wait for it itself.
    let before = server.log_size();
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "DELETE WHERE { <https://example.org/s> <https://example.org/p> ?o }",
        )
        .await;
    check_appended(&server, &reply, before, 1);
    assert_eq!(server.changes_from(before)[0].0, Op::Remove);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_nodes_in_an_update_are_skolemized() {
    let server = TestServer::start();
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "INSERT DATA { _:b <https://example.org/p> \"x\" . _:b <https://example.org/q> \"y\" }",
        )
        .await;
    check_appended(&server, &reply, 0, 2);
    let genid = format!(
        "<{}/.well-known/genid/",
        server.state.genid_base.trim_end_matches('/')
    );
    let subjects: Vec<String> = server
        .changes_from(0)
        .iter()
        .map(|(_, q)| q.subject.to_string())
        .collect();
    assert!(
        subjects.iter().all(|s| s.starts_with(&genid)),
        "{subjects:?}"
    );
    assert_eq!(subjects[0], subjects[1], "one label, one Skolem IRI");
    server.close().await;
}
