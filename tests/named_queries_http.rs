//! `GET /v1/queries` and `GET /v1/queries/{group}/{name}`: the catalog in the contract's
//! shape, parameters bound as terms (injections matched as data, invalid IRIs 400), asOf,
//! errors naming the parameter, content negotiation, and rejected batches counted by shape.

mod common;

use std::path::Path;

use axum::http::StatusCode;
use common::http::{TestServer, encode};

const EX: &str = "https://example.org/";

async fn named(server: &TestServer, path_and_query: &str) -> Vec<serde_json::Value> {
    let reply = server.get(&format!("/v1/queries/{path_and_query}")).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{path_and_query}: {}",
        reply.text()
    );
    assert_eq!(reply.media_type(), "application/sparql-results+json");
    reply.json()["results"]["bindings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn values(rows: &[serde_json::Value], var: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[var]["value"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn events_caught_up(server: &TestServer) {
    server.caught_up().await;
    let size = server.log_size();
    let projections = server.state.projections.clone();
    let done = tokio::task::spawn_blocking(move || {
        projections.wait_events(size, common::http::PROJECTION_WAIT)
    })
    .await
    .unwrap();
    assert!(done, "the event graph did not reach {size}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_every_query_with_typed_parameters() {
    let server = TestServer::start();
    let reply = server.get("/v1/queries").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    let queries = json["queries"].as_array().expect("queries");
    let names: Vec<&str> = queries.iter().filter_map(|q| q["name"].as_str()).collect();
    for expected in [
        "metrics/ingest-latency",
        "metrics/events-per-minute-per-actor",
        "metrics/rejected-batches-by-shape",
        "metrics/projection-lag",
        "audit/subject-history",
        "audit/provenance",
        "audit/actor-activity",
        "replay/by-actor",
        "replay/except-actor",
        "replay/time-range",
        "replay/by-predicate",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let history = queries
        .iter()
        .find(|q| q["name"] == "audit/subject-history")
        .unwrap();
    assert!(!history["title"].as_str().unwrap().is_empty());
    assert!(!history["description"].as_str().unwrap().is_empty());
    assert_eq!(
        history["params"],
        serde_json::json!([{"name": "s", "kind": "iri", "required": true, "description": "the subject"}])
    );
    // The OpenAPI document enumerates the same groups and names.
    let doc = server.get("/openapi.json").await.json();
    let documented = |param: &str| -> std::collections::BTreeSet<String> {
        doc["paths"]["/v1/queries/{group}/{name}"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == param)
            .and_then(|p| p["schema"]["enum"].as_array())
            .unwrap_or_else(|| panic!("{param} is an enum in docs/openapi.json"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let part = |i: usize| -> std::collections::BTreeSet<String> {
        names
            .iter()
            .map(|n| n.split('/').nth(i).unwrap().to_owned())
            .collect()
    };
    assert_eq!(documented("group"), part(0));
    assert_eq!(documented("name"), part(1));
    for q in queries {
        for p in q["params"].as_array().unwrap() {
            let kind = p["kind"].as_str().unwrap();
            assert!(
                ["iri", "literal", "integer", "dateTime", "string"].contains(&kind),
                "{p}"
            );
            assert!(p["required"].is_boolean());
        }
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_history_and_provenance_follow_the_log_and_as_of() {
    let server = TestServer::start();
    let s = format!("{EX}ada");
    server
        .publish(
            "application/n-triples",
            &format!("<{s}> <{EX}age> \"36\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n<{s}> <{EX}name> \"Ada\" .\n"),
        )
        .await;
    let before_change = server.log_size();
    let update =
        format!("DELETE DATA {{ <{s}> <{EX}age> 36 }} ; INSERT DATA {{ <{s}> <{EX}age> 37 }}");
    let reply = server
        .post("/update", "application/sparql-update", update)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    events_caught_up(&server).await;

    let rows = named(&server, &format!("audit/subject-history?s={}", encode(&s))).await;
    assert_eq!(values(&rows, "seq"), ["0", "1", "2", "3"]);
    let mut ops = values(&rows, "op");
    ops.sort();
    assert_eq!(ops, ["add", "add", "add", "remove"]);
    let actor = hex::encode(server.state.actor.0);
    assert!(values(&rows, "actor").iter().all(|a| *a == actor));

    let rows = named(&server, &format!("audit/provenance?s={}", encode(&s))).await;
    assert_eq!(values(&rows, "o"), ["37", "Ada"]);
    let seqs = values(&rows, "seq");
    assert_eq!(seqs[1], "1", "the name was asserted by event 1");
    assert!(
        ["2", "3"].contains(&seqs[0].as_str()),
        "37 by the update: {seqs:?}"
    );

    // asOf: the log before the update.
    let reply = server
        .get(&format!(
            "/v1/queries/audit/provenance?s={}&asOf={before_change}",
            encode(&s)
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.header("ledgraph-as-of"),
        Some(before_change.to_string().as_str())
    );
    let rows = reply.json()["results"]["bindings"]
        .as_array()
        .cloned()
        .unwrap();
    assert_eq!(values(&rows, "o"), ["36", "Ada"]);

    // The lg: time functions work on /sparql too.
    let times = server
        .select_values(
            "PREFIX lg: <https://ledgraph.dev/ns#> SELECT ?t WHERE { GRAPH <urn:ledgraph:log> { <urn:ledgraph:event:0> lg:time ?hlc } BIND (lg:hlcDateTime(?hlc) AS ?t) }",
            "t",
        )
        .await;
    assert_eq!(
        times,
        values(
            &named(&server, &format!("audit/subject-history?s={}", encode(&s))).await[..1],
            "time"
        )
    );

    // CSV by Accept, like /sparql.
    let reply = server
        .get_with(
            &format!("/v1/queries/audit/subject-history?s={}", encode(&s)),
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.media_type(), "text/csv");
    assert!(
        reply.text().starts_with("seq,time,actor,op"),
        "{}",
        reply.text()
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_the_parameter_and_injections_are_only_data() {
    let server = TestServer::start();
    let injection = "x\" } ; DROP ALL ; #";
    let nt = format!(
        "<{EX}s> <{EX}p> {} .\n",
        oxrdf::Literal::new_simple_literal(injection)
    );
    server.publish("application/n-triples", &nt).await;
    events_caught_up(&server).await;
    let triples_before = server.select("SELECT * { ?s ?p ?o }").await.len();

    // An actor "key" full of SPARQL: a literal that matches no actor, and nothing runs.
    for value in [injection, "\"} UNION { ?s ?p ?o } #", "'; CLEAR ALL ; '"] {
        let rows = named(
            &server,
            &format!("audit/actor-activity?actor={}", encode(value)),
        )
        .await;
        assert!(rows.is_empty(), "{value:?}: {rows:?}");
    }
    assert_eq!(
        server.select("SELECT * { ?s ?p ?o }").await.len(),
        triples_before
    );

    for (uri, status, mentions) in [
        (
            "/v1/queries/audit/nope",
            StatusCode::NOT_FOUND,
            "audit/nope",
        ),
        (
            "/v1/queries/audit/subject-history",
            StatusCode::BAD_REQUEST,
            "\"s\"",
        ),
        (
            "/v1/queries/audit/subject-history?s=https%3A%2F%2Fe.org%2Fa%3E%20%7D%20%3B%20DROP%20ALL",
            StatusCode::BAD_REQUEST,
            "\"s\"",
        ),
        (
            "/v1/queries/audit/subject-history?s=https%3A%2F%2Fe.org%2Fa&x=1",
            StatusCode::BAD_REQUEST,
            "\"x\"",
        ),
        (
            "/v1/queries/audit/subject-history?s=https%3A%2F%2Fe.org%2Fa&s=https%3A%2F%2Fe.org%2Fb",
            StatusCode::BAD_REQUEST,
            "\"s\"",
        ),
        (
            "/v1/queries/replay/time-range?from=yesterday",
            StatusCode::BAD_REQUEST,
            "\"from\"",
        ),
        (
            "/v1/queries/metrics/ingest-latency?asOf=1",
            StatusCode::BAD_REQUEST,
            "asOf",
        ),
        (
            "/v1/queries/audit/subject-history?s=https%3A%2F%2Fe.org%2Fa&asOf=99",
            StatusCode::BAD_REQUEST,
            "99",
        ),
    ] {
        let reply = server.get(uri).await;
        let json = reply.assert_error(status);
        let message = json["error"].as_str().unwrap();
        assert!(message.contains(mentions), "{uri}: {message}");
    }
    assert_eq!(
        server.select("SELECT * { ?s ?p ?o }").await.len(),
        triples_before
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_batches_are_counted_by_shape_outside_the_log() {
    let shapes = Path::new(env!("CARGO_MANIFEST_DIR")).join("shapes/demo.ttl");
    let server = TestServer::start_with(|c| c.shapes = Some(shapes));
    server
        .publish("text/turtle", include_str!("../ontology/demo.ttl"))
        .await;
    server.caught_up().await;
    let size = server.log_size();
    let bad = "@prefix ex: <https://example.org/plant#> .\n\
               ex:t-42 a ex:TemperatureSensor ; ex:monitors ex:wo-1001 ; ex:reading \"hot\" .\n";
    for _ in 0..3 {
        let reply = server.post("/v1/events", "text/turtle", bad).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text()
        );
    }
    assert_eq!(server.log_size(), size, "refusals are not in the log");
    let rows = named(&server, "metrics/rejected-batches-by-shape").await;
    assert!(!rows.is_empty(), "counted");
    assert!(
        values(&rows, "rejectedBatches").iter().all(|n| n == "3"),
        "{rows:?}"
    );
    assert!(
        values(&rows, "shapeSet").iter().all(|s| s == "demo"),
        "{rows:?}"
    );
    // A range before the refusals counts none.
    let rows = named(
        &server,
        "metrics/rejected-batches-by-shape?to=2000-01-01T00%3A00%3A00Z",
    )
    .await;
    assert!(rows.is_empty(), "{rows:?}");
    server.close().await;
}
