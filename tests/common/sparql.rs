//! The SPARQL tests' fixture (a few people in the default graph and two named graphs) and
//! checks shared by the query and update tests.

use axum::http::StatusCode;
use ledgraph::log::SignedCheckpoint;

use super::http::{Reply, TestServer};

pub const EX: &str = "https://example.org/";
pub const PEOPLE_TTL: &str = "@prefix ex: <https://example.org/> .\n\
    ex:alice ex:name \"Alice\" ; ex:knows ex:bob .\n\
    ex:bob ex:name \"Bob\" .\n";
pub const NAMED_GRAPHS_JSON: &str = r#"[
    {"op": "add", "s": "<https://example.org/carol>", "p": "<https://example.org/name>", "o": "\"Carol\"",
     "g": "<https://example.org/g1>"},
    {"op": "add", "s": "<https://example.org/dave>", "p": "<https://example.org/name>", "o": "\"Dave\"",
     "g": "<https://example.org/g2>"}
]"#;
pub const NAMES: &str = "SELECT ?name WHERE { ?s <https://example.org/name> ?name }";

/// Alice and Bob in the default graph, Carol in g1, Dave in g2; the state caught up.
pub async fn server_with_people() -> TestServer {
    let server = TestServer::start();
    server.publish("text/turtle", PEOPLE_TTL).await;
    server.publish("application/json", NAMED_GRAPHS_JSON).await;
    server.caught_up().await;
    server
}

/// The sorted `?name` values of a SPARQL JSON results reply.
pub fn names_of(reply: &Reply) -> Vec<String> {
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
pub fn names_position(reply: &Reply, line: u32) -> bool {
    let json = reply.json();
    let position = json["position"].as_str().unwrap_or("");
    let message = json["error"].as_str().unwrap_or("");
    let needle = format!("{line}:");
    position.starts_with(&needle)
        || message
            .match_indices(&needle)
            .any(|(i, _)| i == 0 || !message.as_bytes()[i - 1].is_ascii_digit())
}
/// The Appended body of an effective update, checked against the log.
pub fn check_appended(server: &TestServer, reply: &Reply, before: u64, count: u64) {
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
