//! The log over HTTP: the signed checkpoint and its key, entries with paging, and inclusion and
//! consistency proofs a client can check on its own.

mod common;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::http::{Reply, TestServer};
use ledgraph::event::decode_event;
use ledgraph::keys::Verifier;
use ledgraph::log::SignedCheckpoint;
use ledgraph::log::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};

/// A server whose log holds `sizes.len()` transactions of the given sizes.
async fn server_with_transactions(
    sizes: &[usize],
    adjust: impl FnOnce(&mut ledgraph::http::server::ServerConfig),
) -> TestServer {
    let server = TestServer::start_with(adjust);
    let mut n = 0;
    for &size in sizes {
        let body: String = (0..size)
            .map(|i| {
                n += 1;
                format!("<https://example.org/e{n}> <https://example.org/p> \"{i}\" .\n")
            })
            .collect();
        server.publish("application/n-triples", &body).await;
    }
    server
}

fn hash(value: &serde_json::Value) -> Hash {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a base64 string: {value}"));
    let bytes = B64.decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    bytes
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("a hash of {} bytes", b.len()))
}

fn hashes(value: &serde_json::Value) -> Vec<Hash> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(hash)
        .collect()
}

async fn verifier(server: &TestServer) -> Verifier {
    let reply = server.get("/v1/log/vkey").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    Verifier::parse_vkey(reply.text().trim())
        .unwrap_or_else(|e| panic!("the vkey does not parse: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vkey_parses_and_is_the_node_s_key() {
    let server = TestServer::start();
    let served = verifier(&server).await;
    assert_eq!(served.to_vkey(), server.state.log.verifier().to_vkey());
    let on_disk = std::fs::read_to_string(
        server
            .dir
            .path()
            .join("data")
            .join(ledgraph::keys::VKEY_FILE),
    )
    .expect("node.vkey");
    assert_eq!(served.to_vkey(), on_disk.trim());
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_verifies_with_the_served_key_and_covers_the_log() {
    let server = server_with_transactions(&[3, 2], |_| {}).await;
    let key = verifier(&server).await;
    let reply = server.get("/v1/log/checkpoint").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.media_type(), "text/plain");
    let checkpoint = SignedCheckpoint::verify(&reply.text(), &key)
        .unwrap_or_else(|e| panic!("the checkpoint does not verify: {e}\n{}", reply.text()));
    assert_eq!(checkpoint.checkpoint.size, 5);
    assert_eq!(
        checkpoint.checkpoint.root,
        server.state.log.root_at(5).expect("root")
    );
    // A tampered note does not verify.
    let tampered = reply.text().replacen("\n5\n", "\n6\n", 1);
    assert_ne!(tampered, reply.text());
    assert!(SignedCheckpoint::verify(&tampered, &key).is_err());
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_page_through_the_log_and_hash_to_their_leaves() {
    let server = server_with_transactions(&[10, 1, 14], |_| {}).await;
    let mut from = 0u64;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let reply = server
            .get(&format!("/v1/log/entries?from={from}&limit=10"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let page = reply.json();
        assert_eq!(page["size"], 25);
        let entries = page["entries"].as_array().expect("entries").clone();
        assert!(entries.len() <= 10);
        seen.extend(entries);
        pages += 1;
        match page["next"].as_u64() {
            Some(next) => {
                assert_eq!(next, seen.len() as u64, "next is where this page ended");
                from = next;
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    let actor = hex::encode(server.state.actor.0);
    for (i, entry) in seen.iter().enumerate() {
        let seq = i as u64;
        assert_eq!(entry["seq"], seq);
        let bytes = B64
            .decode(entry["entry"].as_str().expect("entry bytes"))
            .expect("base64");
        assert_eq!(
            leaf_hash(&bytes),
            server.state.log.leaf_hash(seq).expect("leaf hash"),
            "entry {seq}"
        );
        let event = decode_event(&bytes).expect("canonical bytes decode");
        assert_eq!(entry["op"], event.op.as_str());
        assert_eq!(entry["s"], event.quad.subject.to_string());
        assert_eq!(entry["p"], event.quad.predicate.to_string());
        assert_eq!(entry["o"], event.quad.object.to_string());
        assert!(
            entry.get("g").is_none_or(|g| g.is_null()),
            "default-graph events have no g"
        );
        assert_eq!(entry["time"], event.time);
        assert_eq!(entry["actor"], actor.as_str());
        let ends = matches!(seq, 9 | 10 | 24);
        assert_eq!(entry["ends_transaction"], ends, "entry {seq}");
    }
    // Reading from the end gives an empty last page.
    let reply = server.get("/v1/log/entries?from=25").await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = reply.json();
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(0));
    assert!(page.get("next").is_none_or(|n| n.is_null()));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entries_page_never_exceeds_the_configured_maximum() {
    let server = server_with_transactions(&[20], |c| c.limits.log_entries_page_max = 7).await;
    let reply = server.get("/v1/log/entries?limit=1000").await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = reply.json();
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(7));
    assert_eq!(page["next"], 7);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_named_graph_events_carry_the_graph() {
    let server = TestServer::start();
    server
        .publish(
            "application/json",
            r#"[{"op": "remove", "s": "<https://example.org/s>", "p": "<https://example.org/p>", "o": "\"v\"",
                 "g": "<https://example.org/g>"}]"#,
        )
        .await;
    let page = server.get("/v1/log/entries").await.json();
    assert_eq!(page["entries"][0]["g"], "<https://example.org/g>");
    assert_eq!(page["entries"][0]["op"], "remove");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_proofs_verify_against_the_checkpoint_root() {
    let server = server_with_transactions(&[4, 3, 6], |_| {}).await;
    let key = verifier(&server).await;
    let checkpoint = SignedCheckpoint::verify(&server.get("/v1/log/checkpoint").await.text(), &key)
        .expect("checkpoint");
    let size = checkpoint.checkpoint.size;
    assert_eq!(size, 13);
    for seq in 0..size {
        for tree in [
            None,
            Some(seq + 1),
            Some((seq + 1).max(size / 2)),
            Some(size),
        ] {
            let uri = match tree {
                Some(n) => format!("/v1/log/proof/inclusion?seq={seq}&size={n}"),
                None => format!("/v1/log/proof/inclusion?seq={seq}"),
            };
            let reply = server.get(&uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
            let proof = reply.json();
            let n = tree.unwrap_or(size);
            assert_eq!(proof["index"], seq);
            assert_eq!(proof["size"], n);
            let leaf = hash(&proof["leaf_hash"]);
            let root = hash(&proof["root"]);
            let path = hashes(&proof["hashes"]);
            // The client computes the leaf from the entry bytes itself.
            let entry = server.state.log.entry(seq).expect("entry");
            assert_eq!(leaf, leaf_hash(&entry));
            assert_eq!(root, server.state.log.root_at(n).expect("root"), "{uri}");
            if n == size {
                assert_eq!(
                    root, checkpoint.checkpoint.root,
                    "{uri}: the checkpoint's root"
                );
            }
            verify_inclusion(&leaf, seq, n, &path, &root).unwrap_or_else(|e| panic!("{uri}: {e}"));
            if let Some(first) = path.first() {
                let mut bad = path.clone();
                bad[0] = leaf_hash(first);
                assert!(
                    verify_inclusion(&leaf, seq, n, &bad, &root).is_err(),
                    "{uri}: a tampered proof verifies"
                );
            }
        }
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_proofs_verify_between_any_two_sizes() {
    let server = server_with_transactions(&[1, 2, 5, 3], |_| {}).await;
    let size = server.log_size();
    assert_eq!(size, 11);
    for from in 1..=size {
        for to in from..=size {
            let uri = format!("/v1/log/proof/consistency?from={from}&to={to}");
            let reply = server.get(&uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
            let proof = reply.json();
            assert_eq!(proof["from"], from);
            assert_eq!(proof["to"], to);
            let from_root = hash(&proof["from_root"]);
            let to_root = hash(&proof["to_root"]);
            assert_eq!(from_root, server.state.log.root_at(from).expect("root"));
            assert_eq!(to_root, server.state.log.root_at(to).expect("root"));
            let path = hashes(&proof["hashes"]);
            verify_consistency(from, to, &path, &from_root, &to_root)
                .unwrap_or_else(|e| panic!("{uri}: {e}"));
        }
    }
    // `to` defaults to the current size.
    let proof = server.get("/v1/log/proof/consistency?from=4").await.json();
    assert_eq!(proof["to"], size);
    server.close().await;
}

async fn bad_request(server: &TestServer, uri: &str) -> Reply {
    let reply = server.get(uri).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{uri}: {}",
        reply.text()
    );
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_proofs_and_entries_are_400() {
    let server = server_with_transactions(&[5], |_| {}).await;
    for uri in [
        "/v1/log/proof/inclusion?seq=5",
        "/v1/log/proof/inclusion?seq=2&size=6",
        "/v1/log/proof/inclusion?seq=3&size=3",
        "/v1/log/proof/inclusion?seq=0&size=0",
        "/v1/log/proof/consistency?from=3&to=6",
        "/v1/log/proof/consistency?from=4&to=2",
        "/v1/log/proof/consistency?from=6",
        "/v1/log/entries?from=6",
    ] {
        bad_request(&server, uri)
            .await
            .assert_error(StatusCode::BAD_REQUEST);
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_log_parameters_are_400_with_a_json_error() {
    let server = server_with_transactions(&[2], |_| {}).await;
    for uri in [
        "/v1/log/proof/inclusion",
        "/v1/log/proof/inclusion?seq=abc",
        "/v1/log/proof/inclusion?seq=-1",
        "/v1/log/proof/inclusion?seq=0&size=1e3",
        "/v1/log/proof/inclusion?seq=99999999999999999999999",
        "/v1/log/proof/consistency",
        "/v1/log/proof/consistency?from=x",
        "/v1/log/entries?from=-1",
        "/v1/log/entries?limit=many",
    ] {
        bad_request(&server, uri)
            .await
            .assert_error(StatusCode::BAD_REQUEST);
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_log_has_a_checkpoint_and_no_entries() {
    let server = TestServer::start();
    let key = verifier(&server).await;
    let reply = server.get("/v1/log/checkpoint").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let checkpoint =
        SignedCheckpoint::verify(&reply.text(), &key).expect("the empty log's checkpoint verifies");
    assert_eq!(checkpoint.checkpoint.size, 0);
    let page = server.get("/v1/log/entries").await.json();
    assert_eq!(page["size"], 0);
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(0));
    bad_request(&server, "/v1/log/proof/inclusion?seq=0").await;
    server.close().await;
}
