//! The SPARQL 1.1 Protocol, queries: GET, form POST and direct POST, content negotiation, the
//! dataset parameters, protocol errors, the service description and the time limit. Updates
//! are in `http_sparql_update.rs`.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{TestServer, encode, request};
use common::sparql::{EX, NAMES, names_of, names_position, server_with_people};
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::Quad;

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
        let reply = server.get(&uri).await;
        reply.assert_error(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            reply.header("allow"),
            Some("POST"),
            "{uri}: a 405 lists the methods"
        );
    }
    let reply = server.get("/update").await;
    reply.assert_error(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        reply.header("allow"),
        Some("POST"),
        "a 405 lists the methods"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_sees_every_write_acknowledged_before_it() {
    let server = TestServer::start();
    for i in 0..25 {
        server
            .publish(
                "application/n-triples",
                &format!("<https://e.org/ryw{i}> <https://e.org/p> \"{i}\" .\n"),
            )
            .await;
        // No waiting for the projection: the read itself must catch up.
        assert!(
            server
                .ask(&format!(
                    "ASK {{ <https://e.org/ryw{i}> <https://e.org/p> \"{i}\" }}"
                ))
                .await,
            "write {i} not visible to the next query"
        );
    }
    server.close().await;
}
