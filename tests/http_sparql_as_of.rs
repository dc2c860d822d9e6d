//! `asOf` on the SPARQL endpoints: a query answers for the state at a past log size (or
//! instant), names that size in `Ledgraph-As-Of`, and every malformed or impossible `asOf` is
//! a 400 that changes nothing.

mod common;

use axum::http::StatusCode;
use common::http::{Reply, TestServer, encode};

const EX: &str = "https://example.org/";
const VALUE_OF_S: &str = "SELECT ?o WHERE { <https://example.org/s> <https://example.org/p> ?o }";

fn objects(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    let mut out: Vec<String> = json["results"]["bindings"]
        .as_array()
        .unwrap_or_else(|| panic!("not SELECT results: {json}"))
        .iter()
        .map(|b| b["o"]["value"].as_str().unwrap_or_default().to_owned())
        .collect();
    out.sort();
    out
}

/// Three transactions: sizes 0, 1 (o1), 3 (o1 replaced by o2), 5 (o3 added, o2 removed).
async fn server_with_history() -> TestServer {
    let server = TestServer::start();
    let change = |op: &str, o: &str| {
        format!(r#"{{"op":"{op}","s":"<{EX}s>","p":"<{EX}p>","o":"<{EX}{o}>"}}"#)
    };
    for tx in [
        vec![change("add", "o1")],
        vec![change("remove", "o1"), change("add", "o2")],
        vec![change("add", "o3"), change("remove", "o2")],
    ] {
        server
            .publish("application/json", &format!("[{}]", tx.join(",")))
            .await;
    }
    server.caught_up().await;
    server
}

fn get_uri(query: &str, as_of: &str) -> String {
    format!("/sparql?query={}&asOf={}", encode(query), encode(as_of))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_answers_for_the_state_at_that_log_size_and_names_it() {
    let server = server_with_history().await;
    let o = |name: &str| format!("{EX}{name}");
    for (as_of, expected) in [
        ("0", vec![]),
        ("1", vec![o("o1")]),
        ("3", vec![o("o2")]),
        ("5", vec![o("o3")]),
    ] {
        let reply = server.get(&get_uri(VALUE_OF_S, as_of)).await;
        assert_eq!(objects(&reply), expected, "asOf={as_of}");
        assert_eq!(reply.header("ledgraph-as-of"), Some(as_of));
    }
    let now = server
        .get(&format!("/sparql?query={}", encode(VALUE_OF_S)))
        .await;
    assert_eq!(objects(&now), [o("o3")]);
    assert_eq!(now.header("ledgraph-as-of"), None, "no asOf, no header");
    let metrics = server.get("/metrics").await.text();
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("ledgraph_as_of_queries_total "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok());
    // The recorder is process-wide: other tests in this binary count too.
    assert!(counted.is_some_and(|n| n >= 4.0), "{metrics}");
    assert!(
        metrics.contains("ledgraph_as_of_log_records_read"),
        "{metrics}"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_works_on_every_query_form_and_endpoint() {
    let server = server_with_history().await;
    let expected = [format!("{EX}o2")];
    for endpoint in ["/sparql", "/query"] {
        let direct = server
            .post(
                &format!("{endpoint}?asOf=3"),
                "application/sparql-query",
                VALUE_OF_S,
            )
            .await;
        let form_body = server
            .post(
                endpoint,
                "application/x-www-form-urlencoded",
                format!("query={}&asOf=3", encode(VALUE_OF_S)),
            )
            .await;
        let form_url = server
            .post(
                &format!("{endpoint}?asOf=3"),
                "application/x-www-form-urlencoded",
                format!("query={}", encode(VALUE_OF_S)),
            )
            .await;
        for reply in [&direct, &form_body, &form_url] {
            assert_eq!(objects(reply), expected, "{endpoint}");
            assert_eq!(reply.header("ledgraph-as-of"), Some("3"));
        }
    }
    let ask = server
        .get(&get_uri(
            "ASK { <https://example.org/s> <https://example.org/p> <https://example.org/o1> }",
            "1",
        ))
        .await;
    assert_eq!(ask.json()["boolean"], true, "{}", ask.text());
    let construct = server
        .get_with(
            &get_uri("CONSTRUCT WHERE { ?s ?p ?o }", "3"),
            &[("accept", "application/n-triples")],
        )
        .await;
    assert_eq!(construct.status, StatusCode::OK, "{}", construct.text());
    assert_eq!(
        construct.text().trim(),
        format!("<{EX}s> <{EX}p> <{EX}o2> .")
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_a_time_answers_for_the_transactions_committed_by_then() {
    let server = server_with_history().await;
    let before = server
        .get(&get_uri(VALUE_OF_S, "1970-01-01T00:00:00Z"))
        .await;
    assert_eq!(objects(&before), Vec::<String>::new());
    assert_eq!(before.header("ledgraph-as-of"), Some("0"));
    let later = server
        .get(&get_uri(VALUE_OF_S, "2999-01-01T00:00:00.000+02:00"))
        .await;
    assert_eq!(objects(&later), [format!("{EX}o3")]);
    assert_eq!(later.header("ledgraph-as-of"), Some("5"));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_impossible_as_of_is_a_400_naming_the_problem() {
    let server = server_with_history().await;
    let q = encode(VALUE_OF_S);
    let cases: Vec<(String, &str)> = vec![
        (format!("/sparql?query={q}&asOf="), "neither a log size"),
        (format!("/sparql?query={q}&asOf=abc"), "neither a log size"),
        (format!("/sparql?query={q}&asOf=-1"), "neither a log size"),
        (format!("/sparql?query={q}&asOf=1.5"), "neither a log size"),
        (
            format!("/sparql?query={q}&asOf=99999999999999999999999"),
            "neither a log size",
        ),
        (format!("/sparql?query={q}&asOf=6"), "beyond the log"),
        (format!("/sparql?query={q}&asOf=2"), "split the transaction"),
        (format!("/sparql?query={q}&asOf=1&asOf=3"), "at most one"),
        (
            format!("/sparql?query={q}&asOf=2026-13-01T00:00:00Z"),
            "not a calendar date",
        ),
        (
            // An unencoded '+' reads as a space.
            format!("/sparql?query={q}&asOf=2026-01-01T00:00:00+01:00"),
            "%2B",
        ),
        (
            format!("/sparql?query={q}&asOf=2026-01-01%2000:00:00Z"),
            "'T' between date and time",
        ),
        ("/sparql?asOf=1".to_owned(), "needs a \"query\""),
    ];
    for (uri, message) in cases {
        let reply = server.get(&uri).await;
        let error = reply.assert_error(StatusCode::BAD_REQUEST);
        let text = error["error"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{uri}: {text}");
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_on_an_update_is_refused_and_appends_nothing() {
    let server = server_with_history().await;
    let before = server.log_size();
    let update = format!("INSERT DATA {{ <{EX}x> <{EX}p> <{EX}y> }}");
    let replies = [
        server
            .post(
                "/update?asOf=1",
                "application/sparql-update",
                update.clone(),
            )
            .await,
        server
            .post(
                "/sparql?asOf=1",
                "application/sparql-update",
                update.clone(),
            )
            .await,
        server
            .post(
                "/sparql",
                "application/x-www-form-urlencoded",
                format!("update={}&asOf=1", encode(&update)),
            )
            .await,
        server
            .post(
                "/update?asOf=1",
                "application/x-www-form-urlencoded",
                format!("update={}", encode(&update)),
            )
            .await,
    ];
    for reply in &replies {
        let error = reply.assert_error(StatusCode::BAD_REQUEST);
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|m| m.contains("queries only")),
            "{error}"
        );
    }
    assert_eq!(
        server.log_size(),
        before,
        "a refused update appended events"
    );
    server.close().await;
}
