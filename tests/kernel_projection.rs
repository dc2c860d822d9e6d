//! The kernel as a projection: with a descriptor active, every committed transaction gets one
//! derived transaction (derived triples + `lg:Receipt`) appended by the node; re-executing the
//! log reproduces each of them exactly (`receipts verify`); and a descriptor activated while
//! publishers keep publishing takes over exactly at its log position.

mod common;

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use common::http::TestServer;
use ledgraph::kernel::follow::transaction;
use ledgraph::kernel::runner::{RECEIPTS_GRAPH, is_derived};
use oxrdf::{GraphName, Term};

const EX: &str = "https://example.org/plant#";
const XSD_DECIMAL: &str = "http://www.w3.org/2001/XMLSchema#decimal";

fn compile(paths: &[&str]) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths: Vec<_> = paths.iter().map(|p| root.join(p)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    ledgraph::descriptor::compile_paths(&refs, &common::node_key())
        .expect("the demo compiles")
        .bytes
}

/// A batch that the demo rules react to: a temperature sensor above 90 °C.
fn hot_reading(k: u64) -> String {
    format!(
        "<urn:test:t{k}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}TemperatureSensor> .\n\
         <urn:test:t{k}> <{EX}temperatureC> \"95.5\"^^<{XSD_DECIMAL}> .\n"
    )
}

/// (first input seq, descriptor digest) of every receipt in the log, and the inputs.
fn receipts(server: &TestServer) -> (Vec<(u64, String)>, Vec<u64>) {
    let reader = server.state.log.reader();
    let (mut receipts, mut inputs) = (Vec::new(), Vec::new());
    let mut seq = 0;
    while seq < reader.size() {
        let tx = transaction(reader, seq).expect("read");
        if is_derived(&tx) {
            for c in &tx {
                let q = &c.event.quad;
                let in_receipts = matches!(&q.graph_name, GraphName::NamedNode(g) if g.as_str() == RECEIPTS_GRAPH);
                if in_receipts && q.predicate.as_str() == "https://ledgraph.dev/ns#descriptor" {
                    let first: u64 = q
                        .subject
                        .to_string()
                        .trim_matches(['<', '>'])
                        .rsplit(':')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .expect("receipt node");
                    let Term::NamedNode(d) = &q.object else {
                        panic!("descriptor IRI")
                    };
                    receipts.push((
                        first,
                        d.as_str().rsplit(':').next().unwrap_or_default().to_owned(),
                    ));
                }
            }
        } else if tx
            .iter()
            .all(|c| c.event.quad.graph_name.is_default_graph())
        {
            inputs.push(seq);
        }
        seq += tx.len() as u64;
    }
    (receipts, inputs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_transactions_are_reproduced_by_re_execution() {
    let server = TestServer::start();
    let reply = server
        .post(
            "/v1/descriptors/activate?name=demo",
            "application/octet-stream",
            compile(&["ontology", "shapes"]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    for k in 0..5 {
        server
            .publish("application/n-triples", &hot_reading(k))
            .await;
    }
    let v = server.kernel_settled().await;
    assert!(v.mismatches.is_empty(), "{:?}", v.mismatches);
    assert_eq!(v.receipts_checked, 5, "{v:?}");
    server.caught_up().await;
    let derived = server
        .ask(&format!(
            "ASK {{ <urn:test:t3> <{EX}condition> <{EX}Overheating> }}"
        ))
        .await;
    assert!(derived, "the derived triple is in the state");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_under_load_processes_every_event_once_by_the_descriptor_of_its_position() {
    let server = std::sync::Arc::new(TestServer::start());
    let a = compile(&["ontology", "shapes"]);
    let b = compile(&["ontology"]);
    let reply = server
        .post("/v1/descriptors/activate", "application/octet-stream", a)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let digest_a = reply.json()["digest"].as_str().expect("digest").to_owned();
    let publisher = {
        let server = server.clone();
        tokio::spawn(async move {
            for k in 0..60 {
                server
                    .publish("application/n-triples", &hot_reading(k))
                    .await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = server
        .post("/v1/descriptors/activate", "application/octet-stream", b)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let swapped_at = reply.json()["seq"].as_u64().expect("seq");
    let digest_b = reply.json()["digest"].as_str().expect("digest").to_owned();
    publisher.await.expect("publisher");
    let v = server.kernel_settled().await;
    assert!(v.mismatches.is_empty(), "{:?}", v.mismatches);

    let (receipts, inputs) = receipts(&server);
    let mut firsts: Vec<u64> = receipts.iter().map(|(f, _)| *f).collect();
    firsts.sort_unstable();
    firsts.dedup();
    assert_eq!(firsts.len(), receipts.len(), "no input was processed twice");
    assert_eq!(firsts, inputs, "every input transaction was processed");
    for (first, digest) in &receipts {
        let expected = if *first < swapped_at {
            &digest_a
        } else {
            &digest_b
        };
        assert_eq!(digest, expected, "input {first} (swap at {swapped_at})");
    }
    assert!(
        receipts.iter().any(|(_, d)| *d == digest_a)
            && receipts.iter().any(|(_, d)| *d == digest_b)
    );
}
