//! SHACL admission over HTTP: enforced shapes refuse a batch whole (422 with a report) and
//! leave the log and the store unchanged; warn mode appends and records the report; shape
//! reloads are recorded in the log; bad shapes are refused and the previous ones stay.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{TestServer, request};
use std::path::{Path, PathBuf};

const EX: &str = "https://example.org/plant#";

fn repo_shapes(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("shapes")
        .join(file)
}

/// A server with the demo ontology's data published and `shapes` active.
async fn server_with(shapes: PathBuf) -> TestServer {
    let server = TestServer::start_with(|c| c.shapes = Some(shapes));
    server
        .publish("text/turtle", include_str!("../ontology/demo.ttl"))
        .await;
    server.caught_up().await;
    server
}

/// Log size, checkpoint and dataset hash, once both projections (state and event graph, which
/// the hash covers) have applied the whole log.
async fn fingerprint(server: &TestServer) -> (u64, String, [u8; 32]) {
    server.caught_up().await;
    let size = server.log_size();
    let projections = server.state.projections.clone();
    let events_done = tokio::task::spawn_blocking(move || {
        projections.wait_events(size, common::http::PROJECTION_WAIT)
    })
    .await
    .expect("wait task");
    assert!(events_done, "the event graph did not reach {size} events");
    let checkpoint = server.state.log.checkpoint().note.clone();
    let hash = server.state.store.dataset_hash().expect("dataset hash");
    (server.log_size(), checkpoint, hash)
}

/// Posts `body` and asserts that the batch was refused (422); the JSON summary.
async fn refused(
    server: &TestServer,
    uri: &str,
    content_type: &str,
    body: &'static str,
) -> serde_json::Value {
    let reply = server.post(uri, content_type, body).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    reply.json()
}

const BAD_SENSOR: &str = "@prefix ex: <https://example.org/plant#> .\n\
    ex:t-42 a ex:TemperatureSensor ; ex:monitors ex:wo-1001 ; ex:reading \"hot\" .\n";

#[tokio::test]
async fn violating_batch_is_refused_whole_and_changes_nothing() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    let before = fingerprint(&server).await;
    let reply = server.post("/v1/events", "text/turtle", BAD_SENSOR).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let json = reply.json();
    assert_eq!(json["conforms"], false);
    let results = json["results"].as_array().expect("results");
    let constraints: Vec<&str> = results
        .iter()
        .filter_map(|r| r["constraint"].as_str())
        .collect();
    assert!(
        constraints.contains(&"sh:ClassConstraintComponent"),
        "{json}"
    );
    assert!(
        constraints.contains(&"sh:DatatypeConstraintComponent"),
        "{json}"
    );
    for r in results {
        assert_eq!(r["focus_node"], format!("<{EX}t-42>"));
        assert_eq!(r["event"], 0, "t-42 is first named by event 0: {r}");
        assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(
        json["report"]
            .as_str()
            .is_some_and(|t| t.contains("sh:ValidationReport")),
        "{json}"
    );
    assert_eq!(fingerprint(&server).await, before);
    server.close().await;
}

#[tokio::test]
async fn report_comes_as_turtle_or_json_ld_by_accept() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    for (accept, needle) in [
        ("text/turtle", "sh:ValidationReport"),
        (
            "application/ld+json",
            "http://www.w3.org/ns/shacl#ValidationReport",
        ),
    ] {
        let reply = server
            .send(request(
                "POST",
                "/v1/events",
                &[("content-type", "text/turtle"), ("accept", accept)],
                Body::from(BAD_SENSOR),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.headers["content-type"].to_str().unwrap_or(""), accept);
        assert!(reply.text().contains(needle), "{accept}: {}", reply.text());
        assert!(reply.text().contains("eventIndex"), "{}", reply.text());
    }
    server.close().await;
}

#[tokio::test]
async fn conforming_batch_is_appended_and_context_comes_from_the_store() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    // ex:pump-7 is an ex:Pump (a subclass of ex:Asset) only in the store, not in this batch.
    server
        .publish(
            "text/turtle",
            "@prefix ex: <https://example.org/plant#> .\n\
             ex:t-43 a ex:TemperatureSensor ; ex:monitors ex:pump-7 ; ex:reading 12.5 .\n",
        )
        .await;
    server.close().await;
}

#[tokio::test]
async fn removing_a_type_a_stored_sensor_relies_on_is_refused() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    // t-41 monitors pump-7 (in the store); pump-7 losing its type breaks t-41's sh:class.
    let json = refused(&server, "/v1/events", "application/json", r#"[{"op":"remove","s":"<https://example.org/plant#pump-7>","p":"<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>","o":"<https://example.org/plant#Pump>"}]"#).await;
    assert!(
        json["results"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["focus_node"] == format!("<{EX}t-41>"))),
        "{json}"
    );
    server.close().await;
}

#[tokio::test]
async fn sparql_update_and_graph_store_writes_are_validated() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    let before = fingerprint(&server).await;
    refused(
        &server,
        "/update",
        "application/sparql-update",
        "PREFIX ex: <https://example.org/plant#> INSERT DATA { ex:wo-1001 ex:status \"lost\" }",
    )
    .await;
    refused(&server, "/store?default", "application/n-triples", "<https://example.org/plant#wo-2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://example.org/plant#WorkOrder> .\n").await;
    assert_eq!(fingerprint(&server).await, before);
    server.close().await;
}

#[tokio::test]
async fn event_shapes_validate_events_in_named_graphs_too() {
    let server = server_with(repo_shapes("events.ttl")).await;
    let json = refused(&server, "/v1/events", "application/n-quads", "<https://example.org/plant#t-41> <https://example.org/plant#reading> \"warm\" <https://example.org/g> .\n").await;
    assert_eq!(json["results"][0]["event"], 0, "{json}");
    // Removing such a triple is allowed: it may be cleaning up.
    let reply = server
        .post(
            "/v1/events",
            "application/json",
            r#"[{"op":"remove","s":"<https://example.org/plant#t-41>","p":"<https://example.org/plant#reading>","o":"\"warm\"","g":"<https://example.org/g>"}]"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    server.close().await;
}

#[tokio::test]
async fn warn_mode_appends_and_records_the_report_for_sparql() {
    let server = server_with(repo_shapes("advice.ttl")).await;
    let appended = server
        .publish(
            "text/turtle",
            "@prefix ex: <https://example.org/plant#> .\nex:wo-7 a ex:WorkOrder ; ex:forAsset ex:pump-7 .\n",
        )
        .await;
    let first = appended["first_seq"].as_u64().expect("first_seq");
    server.caught_up().await;
    let events = server
        .select_values(
            "PREFIX sh: <http://www.w3.org/ns/shacl#> PREFIX lg: <https://ledgraph.dev/ns#>
             SELECT ?event WHERE { GRAPH <urn:ledgraph:shacl> {
               ?r a sh:ValidationResult ; sh:focusNode <https://example.org/plant#wo-7> ; lg:event ?event } }",
            "event",
        )
        .await;
    assert_eq!(events, vec![format!("urn:ledgraph:event:{first}")]);
    server.close().await;
}

#[tokio::test]
async fn off_mode_admits_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(repo_shapes("demo.ttl"))
        .expect("demo shapes")
        .replace("lg:admissionMode lg:enforce", "lg:admissionMode lg:off");
    let path = dir.path().join("demo-off.ttl");
    std::fs::write(&path, text).expect("write shapes");
    let server = server_with(path).await;
    server.publish("text/turtle", BAD_SENSOR).await;
    server.close().await;
}

#[tokio::test]
async fn validate_is_a_dry_run() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    let before = fingerprint(&server).await;
    let reply = server.post("/v1/validate", "text/turtle", BAD_SENSOR).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["conforms"], false);
    let reply = server
        .post(
            "/v1/validate",
            "text/turtle",
            "@prefix ex: <https://example.org/plant#> .\nex:t-9 ex:reading 1.5 .\n",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["conforms"], true, "{}", reply.text());
    assert_eq!(fingerprint(&server).await, before);
    server.close().await;
}

#[tokio::test]
async fn malformed_validate_and_shapes_bodies_get_4xx() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    let reply = server
        .post("/v1/validate", "text/turtle", "ex:a ex:b")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    let reply = server.post("/v1/validate", "image/png", "x").await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = server
        .post(
            "/v1/shapes",
            "text/turtle",
            "@prefix sh: <http://www.w3.org/ns/shacl#> .\n<a> <b> .",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.json()["position"], "2:9", "{}", reply.text());
    let reply = server
        .post(
            "/v1/shapes",
            "text/turtle",
            "@prefix sh: <http://www.w3.org/ns/shacl#> .\n<urn:s> a sh:NodeShape ;\n sh:targetClass <urn:C> ;\n sh:minCount \"many\" .\n",
        )
        .await;
    assert!(
        reply.status.is_client_error(),
        "{} {}",
        reply.status,
        reply.text()
    );
    let reply = server.post("/v1/shapes", "application/json", "{}").await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The demo shapes are still the ones in force.
    let reply = server.post("/v1/events", "text/turtle", BAD_SENSOR).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    server.close().await;
}

#[tokio::test]
async fn shape_changes_are_recorded_in_the_log() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    let digest = || ledgraph::http::admission::recorded_digest(server.state.store.oxigraph());
    server.caught_up().await;
    let first = digest().expect("read digest").expect("recorded at start");
    assert!(first.starts_with("sha256:"), "{first}");
    let size = server.log_size();
    // Reloading the same files records nothing.
    let reply = server.post("/v1/shapes", "text/turtle", "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["recorded"], false);
    assert_eq!(server.log_size(), size);
    // New shapes replace the digest, in the log.
    let reply = server
        .post(
            "/v1/shapes",
            "text/turtle",
            "@prefix sh: <http://www.w3.org/ns/shacl#> .\n<urn:S> a sh:NodeShape ; sh:targetClass <urn:C> ; sh:property [ sh:path <urn:p> ; sh:minCount 1 ] .\n",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["recorded"], true);
    assert_eq!(server.log_size(), size + 2, "remove old digest, add new");
    server.caught_up().await;
    let second = digest().expect("read digest").expect("recorded");
    assert_ne!(first, second);
    // The posted shapes are the ones in force: the old BAD_SENSOR passes, a urn:C without urn:p not.
    server.publish("text/turtle", BAD_SENSOR).await;
    refused(
        &server,
        "/v1/events",
        "application/n-triples",
        "<urn:x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:C> .\n",
    )
    .await;
    server.close().await;
}

#[tokio::test]
async fn the_shacl_graph_cannot_be_written_by_clients() {
    let server = server_with(repo_shapes("demo.ttl")).await;
    let reply = server
        .post(
            "/v1/events",
            "application/n-quads",
            "<urn:ledgraph:shapes> <https://ledgraph.dev/ns#shapesDigest> \"forged\" <urn:ledgraph:shacl> .\n",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    server.close().await;
}

#[test]
fn broken_shapes_file_is_refused_with_file_line_and_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(repo_shapes("demo.ttl"), dir.path().join("a.ttl")).expect("copy");
    let broken = dir.path().join("b.ttl");
    std::fs::write(&broken, "@prefix sh: <http://www.w3.org/ns/shacl#> .\n\n<urn:s> a sh:NodeShape ;\n  sh:property [ sh:path <urn:p> \n .\n")
        .expect("write");
    let err = ledgraph::shapes::Shapes::load(dir.path()).expect_err("broken file refused");
    let text = err.to_string();
    assert!(text.contains("b.ttl:5:"), "{text}");
    match err {
        ledgraph::shapes::ShapesError::Syntax { line, .. } => assert_eq!(line, 5),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn repository_shapes_load() {
    let shapes = ledgraph::shapes::Shapes::load(&repo_shapes("")).expect("shapes/ loads");
    let names: Vec<&str> = shapes.sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["advice", "demo", "events", "plant"]);
    assert!(shapes.plan.describes_events);
    assert!(
        shapes.plan.hops >= 2 && shapes.plan.hops <= ledgraph::shapes::analysis::CONTEXT_HOPS_MAX
    );
}
