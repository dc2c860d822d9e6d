//! Operations endpoints and the layers every request passes through: health, readiness,
//! metrics, the OpenAPI document (kept equal to `ROUTES`), request ids, and JSON errors for
//! unknown routes.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{TestServer, request};
use ledgraph::http::ROUTES;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_ok() {
    let server = TestServer::start();
    let reply = server.get("/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_the_log_size_and_what_the_projections_applied() {
    let server = TestServer::start();
    server
        .publish(
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"1\" .\n<https://example.org/s> <https://example.org/p> \"2\" .\n",
        )
        .await;
    server.caught_up().await;
    let events = server.state.projections.clone();
    let caught =
        tokio::task::spawn_blocking(move || events.wait_events(2, common::http::PROJECTION_WAIT))
            .await
            .expect("wait task");
    assert!(caught, "the event-graph projection did not catch up");
    let reply = server.get("/readyz").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["status"], "ready");
    assert_eq!(json["log_size"], 2);
    assert_eq!(json["state_applied"], 2);
    assert_eq!(json["events_applied"], 2);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_shutting_down() {
    let server = TestServer::start();
    server
        .state
        .shutting_down
        .store(true, std::sync::atomic::Ordering::Release);
    let reply = server.get("/readyz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["status"], "unavailable");
    // Writes are refused too, and append nothing.
    let reply = server
        .post(
            "/v1/events",
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"1\" .\n",
        )
        .await;
    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.log_size(), 0);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_appended_events_and_show_projection_lag() {
    let server = TestServer::start();
    server
        .publish(
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"1\" .\n",
        )
        .await;
    server.caught_up().await;
    let reply = server.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.media_type(), "text/plain");
    let text = reply.text();
    let sample = |name: &str| -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    let appended = sample("ledgraph_events_appended_total")
        .unwrap_or_else(|| panic!("no events counter in\n{text}"));
    // Other tests in this binary share the process-wide recorder, so at least ours.
    assert!(appended >= 1.0, "{appended}");
    assert!(
        sample("ledgraph_transactions_appended_total").is_some_and(|v| v >= 1.0),
        "{text}"
    );
    let state_lag = sample("ledgraph_projection_lag_events{projection=\"state\"}")
        .unwrap_or_else(|| panic!("no state lag gauge in\n{text}"));
    assert_eq!(state_lag, 0.0, "the state caught up before the scrape");
    assert!(
        sample("ledgraph_projection_lag_events{projection=\"events\"}").is_some(),
        "no event-graph lag gauge in\n{text}"
    );
    assert!(sample("ledgraph_log_events").is_some(), "{text}");
    assert!(
        text.contains("ledgraph_commit_seconds_bucket"),
        "commit latency is a histogram"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_exactly_the_routes() {
    let server = TestServer::start();
    let reply = server.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.media_type(), "application/json");
    let doc = reply.json();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (key, operation) in item.as_object().expect("path item") {
            if methods.contains(&key.as_str()) {
                assert!(
                    operation["responses"].is_object(),
                    "{key} {path} documents its responses"
                );
                documented.insert((key.clone(), path.clone()));
            }
        }
    }
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(routes.len(), ROUTES.len(), "ROUTES has no duplicates");
    assert_eq!(documented, routes);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_routes_is_served() {
    let server = TestServer::start();
    for &(method, path) in ROUTES {
        // An event stream never ends by itself; `limit=0` ends it at once so it reads whole.
        let uri = match path {
            "/v1/subscribe" => format!("{path}?limit=0"),
            // A template: one named query stands for all.
            "/v1/queries/{group}/{name}" => "/v1/queries/metrics/projection-lag".to_owned(),
            _ => path.to_owned(),
        };
        let reply = server
            .send(request(
                &method.to_ascii_uppercase(),
                &uri,
                &[],
                Body::empty(),
            ))
            .await;
        assert_ne!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {path} is not routed: {}",
            reply.text()
        );
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_echoed_or_made_up() {
    let server = TestServer::start();
    let reply = server
        .get_with("/healthz", &[("x-request-id", "trace-abc-123")])
        .await;
    assert_eq!(reply.header("x-request-id"), Some("trace-abc-123"));
    let first = server.get("/healthz").await;
    let second = server.get("/nope").await;
    let (a, b) = (first.header("x-request-id"), second.header("x-request-id"));
    assert!(a.is_some_and(|v| !v.is_empty()), "a request id is assigned");
    assert!(b.is_some(), "error responses carry the request id too");
    assert_ne!(a, b, "request ids are distinct");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_route_is_a_json_404() {
    let server = TestServer::start();
    for uri in ["/nope", "/v1", "/v1/log", "/v2/events", "/sparql/extra"] {
        let reply = server.get(uri).await;
        reply.assert_error(StatusCode::NOT_FOUND);
        assert_eq!(reply.media_type(), "application/json");
    }
    let reply = server.post("/v1/nothing", "application/json", "[]").await;
    reply.assert_error(StatusCode::NOT_FOUND);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_route_with_an_unknown_method_is_a_json_405() {
    let server = TestServer::start();
    for (method, uri) in [
        ("DELETE", "/v1/events"),
        ("GET", "/v1/events"),
        ("POST", "/healthz"),
        ("PATCH", "/store"),
    ] {
        let reply = server.send(request(method, uri, &[], Body::empty())).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert!(
            reply.header("allow").is_some(),
            "{method} {uri}: a 405 lists the allowed methods"
        );
        reply.assert_error(StatusCode::METHOD_NOT_ALLOWED);
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_page_is_html() {
    let server = TestServer::start();
    let reply = server.get("/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.media_type(), "text/html");
    assert!(reply.text().to_ascii_lowercase().contains("<html"));
    server.close().await;
}
