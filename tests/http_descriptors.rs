//! Descriptor activation over HTTP: `GET /v1/descriptors`, `POST /v1/descriptors/activate`
//! (recorded in the log, rollback by digest), and the active descriptor's guards refusing a
//! batch before it is appended, with a report naming the rule.

mod common;

use std::path::Path;

use axum::http::StatusCode;
use common::http::TestServer;
use ledgraph::descriptor;

fn compile(paths: &[&str]) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths: Vec<_> = paths.iter().map(|p| root.join(p)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    descriptor::compile_paths(&refs, &common::node_key())
        .expect("the demo compiles")
        .bytes
}

const EX: &str = "https://example.org/plant#";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_is_recorded_and_guards_refuse_before_append() {
    let server = TestServer::start();
    let listing = server.get("/v1/descriptors").await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.text());
    let json = listing.json();
    assert!(json["active"].is_null(), "{json}");
    assert_eq!(json["descriptors"].as_array().map(Vec::len), Some(0));

    let demo = compile(&["ontology", "shapes"]);
    let before = server.log_size();
    let reply = server
        .post(
            "/v1/descriptors/activate?name=demo",
            "application/octet-stream",
            demo.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let activated = reply.json();
    assert_eq!(activated["recorded"], true);
    assert_eq!(activated["seq"], before);
    let digest = activated["digest"].as_str().expect("digest").to_owned();
    assert!(server.log_size() > before, "the activation is in the log");
    server.caught_up().await;

    let json = server.get("/v1/descriptors").await.json();
    assert_eq!(json["active"], digest.as_str());
    assert_eq!(json["descriptors"][0]["name"], "demo");
    assert!(
        json["descriptors"][0]["rules"]["hot"].as_u64().unwrap_or(0) > 0,
        "{json}"
    );
    assert!(
        !json["descriptors"][0]["report"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    );
    assert_eq!(json["activations"][0]["seq"], before);
    assert_eq!(json["activations"][0]["digest"], digest.as_str());

    // A negative flow rate: refused by rule:NonNegativeFlow, nothing appended.
    let size = server.log_size();
    let bad = format!(
        "<urn:test:pump> <{EX}flowRateM3h> \"-5.0\"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n"
    );
    let reply = server
        .post("/v1/events", "application/n-triples", bad)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let body = reply.json();
    assert!(
        body["results"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["shape"]
                .as_str()
                .is_some_and(|s| s.contains("NonNegativeFlow")))),
        "the report names the rule: {body}"
    );
    assert_eq!(server.log_size(), size, "nothing appended");
    let good = format!(
        "<urn:test:pump> <{EX}flowRateM3h> \"5.0\"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n"
    );
    server.publish("application/n-triples", &good).await;

    // Clients cannot write the descriptors graph.
    let forged = "<urn:ledgraph:descriptors> <https://ledgraph.dev/ns#activeDescriptor> <urn:x> <urn:ledgraph:descriptors> .\n";
    let reply = server
        .post("/v1/events", "application/n-quads", forged)
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST);

    // Same digest again: nothing recorded.
    let reply = server
        .post("/v1/descriptors/activate", "application/octet-stream", demo)
        .await;
    assert_eq!(reply.json()["recorded"], false);

    // Another descriptor, then rollback by digest.
    let other = compile(&["ontology"]);
    let reply = server
        .post(
            "/v1/descriptors/activate",
            "application/octet-stream",
            other,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let other_digest = reply.json()["digest"].as_str().expect("digest").to_owned();
    assert_ne!(other_digest, digest);
    server.caught_up().await;
    let reply = server
        .post(
            &format!("/v1/descriptors/activate?digest={digest}"),
            "application/octet-stream",
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["digest"], digest.as_str());
    server.caught_up().await;
    let json = server.get("/v1/descriptors").await.json();
    assert_eq!(json["active"], digest.as_str());
    let seqs: Vec<u64> = json["activations"]
        .as_array()
        .expect("activations")
        .iter()
        .filter_map(|a| a["seq"].as_u64())
        .collect();
    assert_eq!(seqs.len(), 3, "{json}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(json["descriptors"].as_array().map(Vec::len), Some(2));

    let unknown = server
        .post(
            "/v1/descriptors/activate?digest=00",
            "application/octet-stream",
            Vec::new(),
        )
        .await;
    unknown.assert_error(StatusCode::NOT_FOUND);
    let garbage = server
        .post(
            "/v1/descriptors/activate",
            "application/octet-stream",
            b"not a descriptor".to_vec(),
        )
        .await;
    garbage.assert_error(StatusCode::BAD_REQUEST);
    server.close().await;
}
