//! The SPARQL 1.1 Graph Store HTTP Protocol at `/store`, following the W3C protocol tests'
//! sequence (indirect identification), with every write checked in the log.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{Reply, TestServer, encode, request};
use ledgraph::event::Op;
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::Quad;

const GRAPH: &str = "https://example.org/graphs/person/1";

fn graph_uri(iri: &str) -> String {
    format!("/store?graph={}", encode(iri))
}

async fn put(server: &TestServer, uri: &str, content_type: &str, body: &str) -> Reply {
    server
        .send(request(
            "PUT",
            uri,
            &[("content-type", content_type)],
            Body::from(body.to_owned()),
        ))
        .await
}

async fn delete(server: &TestServer, uri: &str) -> Reply {
    server
        .send(request("DELETE", uri, &[], Body::empty()))
        .await
}

async fn head(server: &TestServer, uri: &str) -> Reply {
    server.send(request("HEAD", uri, &[], Body::empty())).await
}

/// The triples of a GET reply, as sorted N-Triples lines (graph names dropped).
fn triples(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let format = RdfFormat::from_media_type(&reply.media_type())
        .unwrap_or_else(|| panic!("unknown media type {:?}", reply.media_type()));
    let quads: Vec<Quad> = RdfParser::from_format(format)
        .for_slice(&reply.body)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("the body does not parse: {e}\n{}", reply.text()));
    let mut lines: Vec<String> = quads
        .iter()
        .map(|q| format!("{} {} {}", q.subject, q.predicate, q.object))
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_w3c_graph_store_sequence_goes_through_the_log() {
    let server = TestServer::start();
    let uri = graph_uri(GRAPH);
    let g = format!("<{GRAPH}>");

    // PUT - Initial state: a new graph is created.
    let before = server.log_size();
    let person = "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n\
        <https://example.org/person/1> a foaf:Person ; foaf:name \"Jane Doe\" .\n";
    let reply = put(&server, &uri, "text/turtle; charset=utf-8", person).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        server.logged(before),
        [
            format!(
                "add <https://example.org/person/1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://xmlns.com/foaf/0.1/Person> {g}"
            ),
            format!(
                "add <https://example.org/person/1> <http://xmlns.com/foaf/0.1/name> \"Jane Doe\" {g}"
            ),
        ]
    );
    assert_eq!(
        server.transaction_ends_from(before),
        [false, true],
        "one write, one transaction"
    );

    // GET of PUT - Initial state.
    server.caught_up().await;
    let reply = server.get_with(&uri, &[("accept", "text/turtle")]).await;
    assert_eq!(reply.media_type(), "text/turtle");
    assert_eq!(
        triples(&reply),
        [
            "<https://example.org/person/1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://xmlns.com/foaf/0.1/Person>",
            "<https://example.org/person/1> <http://xmlns.com/foaf/0.1/name> \"Jane Doe\"",
        ]
    );
    let reply = server
        .get_with(&uri, &[("accept", "application/n-triples")])
        .await;
    assert_eq!(reply.media_type(), "application/n-triples");
    assert_eq!(triples(&reply).len(), 2);

    // PUT - replace: only the difference is logged.
    let before = server.log_size();
    let replaced = "<https://example.org/person/1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://xmlns.com/foaf/0.1/Person> .\n\
        <https://example.org/person/1> <http://xmlns.com/foaf/0.1/name> \"Jane Smith\" .\n";
    let reply = put(&server, &uri, "application/n-triples", replaced).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(
        server.logged(before),
        [
            format!(
                "add <https://example.org/person/1> <http://xmlns.com/foaf/0.1/name> \"Jane Smith\" {g}"
            ),
            format!(
                "remove <https://example.org/person/1> <http://xmlns.com/foaf/0.1/name> \"Jane Doe\" {g}"
            ),
        ]
    );
    server.caught_up().await;
    assert!(
        triples(&server.get(&uri).await).contains(
            &"<https://example.org/person/1> <http://xmlns.com/foaf/0.1/name> \"Jane Smith\""
                .to_owned()
        )
    );

    // PUT - the same content again changes nothing and logs nothing.
    let before = server.log_size();
    let reply = put(&server, &uri, "application/n-triples", replaced).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(server.log_size(), before);

    // PUT - default graph.
    let before = server.log_size();
    let reply = put(
        &server,
        "/store?default",
        "text/turtle",
        "<https://example.org/d> <https://example.org/p> \"default\" .\n",
    )
    .await;
    // The default graph was empty: new content is created (GSP §5.3, the W3C manifest's
    // put__default_graph).
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        server.logged(before),
        ["add <https://example.org/d> <https://example.org/p> \"default\" DEFAULT"]
    );
    server.caught_up().await;
    assert_eq!(
        triples(&server.get("/store?default").await),
        ["<https://example.org/d> <https://example.org/p> \"default\""]
    );
    // Now it has content: replacing it creates nothing new.
    let reply = put(
        &server,
        "/store?default",
        "text/turtle",
        "<https://example.org/d> <https://example.org/p> \"default\" .\n",
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());

    // HEAD on an existing graph: the GET's status and headers, no body.
    let reply = head(&server, &uri).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.media_type(), "text/turtle");
    assert!(reply.body.is_empty(), "HEAD has no body");

    // POST - existing graph: the body is merged in.
    let before = server.log_size();
    let more = "<https://example.org/person/1> <http://xmlns.com/foaf/0.1/nick> \"JS\" .\n";
    let reply = server.post(&uri, "application/n-triples", more).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(
        server.logged(before),
        [format!(
            "add <https://example.org/person/1> <http://xmlns.com/foaf/0.1/nick> \"JS\" {g}"
        )]
    );
    server.caught_up().await;
    assert_eq!(
        triples(&server.get(&uri).await).len(),
        3,
        "the POST merged, not replaced"
    );

    // DELETE - existing graph.
    let before = server.log_size();
    let reply = delete(&server, &uri).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let removed = server.changes_from(before);
    assert_eq!(removed.len(), 3);
    assert!(
        removed
            .iter()
            .all(|(op, q)| *op == Op::Remove && q.graph_name.to_string() == g)
    );
    assert_eq!(server.transaction_ends_from(before), [false, false, true]);

    // GET of DELETE - existing graph: gone.
    server.caught_up().await;
    server.get(&uri).await.assert_error(StatusCode::NOT_FOUND);
    let reply = head(&server, &uri).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.is_empty(), "HEAD has no body");

    // DELETE - non-existent graph.
    let before = server.log_size();
    delete(&server, &graph_uri("https://example.org/graphs/never"))
        .await
        .assert_error(StatusCode::NOT_FOUND);
    assert_eq!(server.log_size(), before);

    // The default graph is untouched by all this.
    assert_eq!(triples(&server.get("/store?default").await).len(), 1);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_to_the_store_with_a_graph_body_creates_a_new_graph_and_says_where() {
    let server = TestServer::start();
    let before = server.log_size();
    let reply = server
        .post(
            "/store",
            "text/turtle",
            "<https://example.org/new> <https://example.org/p> \"new\" .\n",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let location = reply
        .header("location")
        .expect("a Location header")
        .to_owned();
    let events = server.changes_from(before);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].1.graph_name.to_string(),
        format!("<{location}>"),
        "the new graph is where Location says"
    );

    server.caught_up().await;
    let reply = server.get(&graph_uri(&location)).await;
    assert_eq!(
        triples(&reply),
        ["<https://example.org/new> <https://example.org/p> \"new\""]
    );

    // A second POST makes another graph.
    let again = server
        .post(
            "/store",
            "text/turtle",
            "<https://example.org/new> <https://example.org/p> \"new\" .\n",
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_ne!(again.header("location"), Some(location.as_str()));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_of_a_dataset_to_the_store_adds_every_quad_to_its_graph() {
    let server = TestServer::start();
    let before = server.log_size();
    let nquads = "<https://example.org/s> <https://example.org/p> \"in g\" <https://example.org/g> .\n\
        <https://example.org/s> <https://example.org/p> \"default\" .\n";
    let reply = server.post("/store", "application/n-quads", nquads).await;
    assert!(
        reply.status.is_success(),
        "{} {}",
        reply.status,
        reply.text()
    );
    assert_eq!(
        server.logged(before),
        [
            "add <https://example.org/s> <https://example.org/p> \"default\" DEFAULT",
            "add <https://example.org/s> <https://example.org/p> \"in g\" <https://example.org/g>",
        ]
    );
    server.caught_up().await;
    let reply = server
        .get_with("/store", &[("accept", "application/n-quads")])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.media_type(), "application/n-quads");
    let text = reply.text();
    assert!(
        text.contains("\"in g\" <https://example.org/g> ."),
        "{text}"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_nodes_written_through_the_graph_store_are_skolemized() {
    let server = TestServer::start();
    let reply = put(
        &server,
        &graph_uri(GRAPH),
        "text/turtle",
        "[] <https://example.org/p> \"anon\" .\n",
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let reply = server
        .post(
            &graph_uri(GRAPH),
            "text/turtle",
            "_:x <https://example.org/p> \"x\" .\n",
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.text());
    let genid = format!(
        "<{}/.well-known/genid/",
        server.state.genid_base.trim_end_matches('/')
    );
    for (_, quad) in server.changes_from(0) {
        assert!(quad.subject.to_string().starts_with(&genid), "{quad}");
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_graph_store_requests_are_rejected_and_append_nothing() {
    let server = TestServer::start();
    server
        .publish(
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"1\" .\n",
        )
        .await;
    server.caught_up().await;
    let before = server.log_size();
    let uri = graph_uri(GRAPH);
    let nt = "<https://example.org/s> <https://example.org/p> \"2\" .\n";

    // Syntax errors: 400, with where for the line-based formats (the RDF/XML parser has none).
    for (content_type, body, has_position) in [
        (
            "text/turtle",
            "@prefix ex: <https://example.org/> .\nex:s ex:p .\n",
            true,
        ),
        (
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"2\" .\n<oops> .\n",
            true,
        ),
        (
            "application/rdf+xml",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n<unclosed>\n",
            false,
        ),
    ] {
        for method in ["PUT", "POST"] {
            let reply = server
                .send(request(
                    method,
                    &uri,
                    &[("content-type", content_type)],
                    Body::from(body),
                ))
                .await;
            let json = reply.assert_error(StatusCode::BAD_REQUEST);
            if has_position {
                let position = json["position"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {content_type}: no position in {json}"));
                assert!(
                    position.starts_with("2:"),
                    "{method} {content_type}: position {position}"
                );
            }
        }
    }
    // Media types the store does not read, or a dataset format for one graph: 415.
    for content_type in [
        "application/json",
        "image/png",
        "application/n-quads",
        "application/trig",
    ] {
        for method in ["PUT", "POST"] {
            let reply = server
                .send(request(
                    method,
                    &uri,
                    &[("content-type", content_type)],
                    Body::from(nt),
                ))
                .await;
            reply.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
    }
    let reply = server.send(request("PUT", &uri, &[], Body::from(nt))).await;
    reply.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Bad targets: 400.
    for target in [
        "/store?graph=not%20an%20iri".to_owned(),
        format!("/store?graph={}&default", encode(GRAPH)),
        format!(
            "/store?graph={}&graph={}",
            encode(GRAPH),
            encode("https://example.org/other")
        ),
    ] {
        for method in ["GET", "PUT", "POST", "DELETE"] {
            let reply = server
                .send(request(
                    method,
                    &target,
                    &[("content-type", "application/n-triples")],
                    Body::from(nt),
                ))
                .await;
            reply.assert_error(StatusCode::BAD_REQUEST);
        }
    }
    // PUT and DELETE need a graph.
    put(&server, "/store", "application/n-triples", nt)
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    delete(&server, "/store")
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    // GET of a graph in a format that cannot hold one graph's triples.
    server
        .get_with(&uri, &[("accept", "application/sparql-results+json")])
        .await
        .assert_error(StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        server.log_size(),
        before,
        "a rejected request appended events"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_store_body_over_the_limits_is_413() {
    let server = TestServer::start_with(|c| {
        c.limits.request_body_bytes_max = 1024;
        c.limits.update_changes_max = 3;
    });
    let uri = graph_uri(GRAPH);
    let line = |i: usize| format!("<https://example.org/s{i}> <https://example.org/p> \"{i}\" .\n");
    let big: String = (0..40).map(line).collect();
    assert!(big.len() > 1024);
    let four: String = (0..4).map(line).collect();
    for method in ["PUT", "POST"] {
        for body in [&big, &four] {
            let reply = server
                .send(request(
                    method,
                    &uri,
                    &[("content-type", "application/n-triples")],
                    Body::from(body.clone()),
                ))
                .await;
            reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
        }
    }
    assert_eq!(server.log_size(), 0);
    let three: String = (0..3).map(line).collect();
    let reply = put(&server, &uri, "application/n-triples", &three).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "exactly the limit is accepted: {}",
        reply.text()
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphs_ledgraph_maintains_cannot_be_written_through_the_graph_store() {
    let server = TestServer::start();
    server
        .publish(
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"1\" .\n",
        )
        .await;
    server.caught_up().await;
    // The event graph exists (so DELETE has something it could wrongly remove).
    let projections = server.state.projections.clone();
    let size = server.log_size();
    let events = tokio::task::spawn_blocking(move || {
        projections.wait_events(size, common::http::PROJECTION_WAIT)
    })
    .await
    .expect("wait task");
    assert!(events, "the event-graph projection did not catch up");
    let before = server.log_size();
    let nt = "<https://example.org/s> <https://example.org/p> \"2\" .\n";
    let mut accepted = Vec::new();
    for graph in [ledgraph::store::EVENT_GRAPH, ledgraph::store::META_GRAPH] {
        let uri = graph_uri(graph);
        for method in ["PUT", "POST", "DELETE"] {
            let size = server.log_size();
            let reply = server
                .send(request(
                    method,
                    &uri,
                    &[("content-type", "application/n-triples")],
                    Body::from(nt),
                ))
                .await;
            if reply.status != StatusCode::BAD_REQUEST && reply.status != StatusCode::FORBIDDEN {
                accepted.push(format!(
                    "{method} {graph} -> {} {} (appended {} events)",
                    reply.status,
                    reply.text(),
                    server.log_size() - size
                ));
            }
        }
        // A dataset body naming the reserved graph, POSTed to the store itself.
        let size = server.log_size();
        let nquads = format!("<https://example.org/s> <https://example.org/p> \"3\" <{graph}> .\n");
        let reply = server.post("/store", "application/n-quads", nquads).await;
        if reply.status != StatusCode::BAD_REQUEST && reply.status != StatusCode::FORBIDDEN {
            accepted.push(format!(
                "POST /store (N-Quads into {graph}) -> {} {} (appended {} events)",
                reply.status,
                reply.text(),
                server.log_size() - size
            ));
        }
    }
    assert!(
        accepted.is_empty(),
        "writes to reserved graphs must be 400/403; these were not:\n{}",
        accepted.join("\n")
    );
    assert_eq!(
        server.log_size(),
        before,
        "writes to reserved graphs appended events"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_ld_writes_one_graph_and_a_body_naming_another_graph_is_400() {
    let server = TestServer::start();
    let uri = graph_uri(GRAPH);
    let one_graph = r#"{"@id": "https://example.org/s", "https://example.org/p": "v"}"#;
    for method in ["PUT", "POST"] {
        let before = server.log_size();
        let reply = server
            .send(request(
                method,
                &uri,
                &[("content-type", "application/ld+json")],
                Body::from(one_graph),
            ))
            .await;
        assert!(reply.status.is_success(), "{method}: {}", reply.text());
        if method == "PUT" {
            assert_eq!(
                server.logged(before),
                [format!(
                    "add <https://example.org/s> <https://example.org/p> \"v\" <{GRAPH}>"
                )]
            );
        }
    }
    server.caught_up().await;
    assert_eq!(
        triples(&server.get(&uri).await),
        ["<https://example.org/s> <https://example.org/p> \"v\""]
    );

    let before = server.log_size();
    let names_a_graph = r#"{"@id": "https://example.org/elsewhere",
        "@graph": [{"@id": "https://example.org/s", "https://example.org/p": "w"}]}"#;
    for method in ["PUT", "POST"] {
        let reply = server
            .send(request(
                method,
                &uri,
                &[("content-type", "application/ld+json")],
                Body::from(names_a_graph),
            ))
            .await;
        reply.assert_error(StatusCode::BAD_REQUEST);
    }
    assert_eq!(server.log_size(), before);

    // POSTed to the store itself, a JSON-LD graph is a new graph, like any graph format.
    let reply = server
        .post(
            "/store",
            "application/ld+json",
            r#"{"@id": "https://example.org/t", "https://example.org/p": "x"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let location = reply.header("location").expect("Location").to_owned();
    server.caught_up().await;
    assert_eq!(
        triples(&server.get(&graph_uri(&location)).await),
        ["<https://example.org/t> <https://example.org/p> \"x\""]
    );
    server.close().await;
}
