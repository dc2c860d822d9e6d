//! `GET /v1/subscribe` (Server-Sent Events, and WebSocket on a real socket): what a stream
//! carries matches the event graph, a reconnect with `Last-Event-ID` continues exactly where
//! the first stream stopped, payload formats, tokens as a parameter, and bad patterns or too
//! many streams are refused with the reason.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{PROJECTION_WAIT, READ_TOKEN, Reply, TestServer, encode, request};
use common::sse::{STREAM_WAIT, Sse, Stream, listen, ws_take};
use futures_util::StreamExt;
use ledgraph::http::app;
use tower::ServiceExt;
const P: &str = "https://example.org/sub/p";

/// Publishes `n` events alternating two predicates and both ops (removes of absent triples
/// are still logged events).
async fn publish(server: &TestServer, start: u64, n: u64) {
    let mut events = Vec::new();
    for i in start..start + n {
        let p = if i % 2 == 0 {
            P
        } else {
            "https://example.org/sub/other"
        };
        let op = if i % 3 == 0 { "remove" } else { "add" };
        events.push(serde_json::json!({
            "op": op,
            "s": format!("<https://example.org/sub/s{}>", i % 7),
            "p": format!("<{p}>"),
            "o": format!("\"v{i}\""),
        }));
    }
    server
        .publish(
            "application/json",
            &serde_json::Value::Array(events).to_string(),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_carries_exactly_the_event_graph_s_matching_events_in_order() {
    let server = TestServer::start();
    publish(&server, 0, 40).await;
    let uri = format!(
        "/v1/subscribe?from=0&p={}&op=remove",
        encode(&format!("<{P}>"))
    );
    let mut stream = Stream::open(&server, &uri, &[]).await;
    publish(&server, 40, 40).await;
    let size = server.log_size();
    let projections = server.state.projections.clone();
    let caught_up =
        tokio::task::spawn_blocking(move || projections.wait_events(size, PROJECTION_WAIT))
            .await
            .unwrap();
    assert!(caught_up, "the event graph did not catch up");
    let query = format!(
        "PREFIX lg: <https://ledgraph.dev/ns#>
         SELECT ?seq WHERE {{ GRAPH <urn:ledgraph:log> {{
           ?e lg:seq ?seq ; lg:op lg:remove ; lg:predicate <{P}> }} }} ORDER BY ?seq"
    );
    let want: Vec<u64> = server
        .select(&query)
        .await
        .iter()
        .map(|b| b["seq"]["value"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(!want.is_empty());
    let got = stream.take(want.len()).await;
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), want);
    for event in &got {
        let json: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(json["seq"], event.id);
        assert_eq!(json["op"], "remove");
        assert_eq!(json["p"], format!("<{P}>"));
    }
    // Nothing else arrives: the next matching event is the next one published.
    publish(&server, 80, 6).await;
    let next = stream.next().await;
    assert_eq!(next.id, size + 4, "{next:?}");
    drop(stream);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_last_event_id_continues_the_stream_without_gap_or_repeat() {
    let server = TestServer::start();
    publish(&server, 0, 30).await;
    let uri = format!("/v1/subscribe?from=0&p={}", encode(P));
    let mut first = Stream::open(&server, &uri, &[]).await;
    let head = first.take(7).await;
    drop(first);
    // Events committed while disconnected.
    publish(&server, 30, 30).await;
    let last = head.last().unwrap().id.to_string();
    let mut second = Stream::open(&server, &uri, &[("last-event-id", &last)]).await;
    let total = 30;
    let tail = second.take(total - head.len()).await;
    let mut whole = Stream::open(&server, &uri, &[]).await;
    let uninterrupted = whole.take(total).await;
    let union: Vec<Sse> = head.into_iter().chain(tail).collect();
    assert_eq!(union, uninterrupted);
    let ids: Vec<u64> = union.iter().map(|e| e.id).collect();
    assert_eq!(ids, (0..60).step_by(2).collect::<Vec<_>>());
    drop((second, whole));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdf_patch_rows_by_accept_or_parameter() {
    let server = TestServer::start();
    publish(&server, 0, 4).await;
    let by_accept = Stream::open(
        &server,
        "/v1/subscribe?from=0",
        &[("accept", "application/rdf-patch")],
    )
    .await
    .take(4)
    .await;
    let by_param = Stream::open(&server, "/v1/subscribe?from=0&format=rdf-patch", &[])
        .await
        .take(4)
        .await;
    assert_eq!(by_accept, by_param);
    assert_eq!(
        by_accept[0].data,
        format!("D <https://example.org/sub/s0> <{P}> \"v0\" .")
    );
    assert_eq!(
        by_accept[1].data,
        "A <https://example.org/sub/s1> <https://example.org/sub/other> \"v1\" ."
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_ends_the_stream() {
    let server = TestServer::start();
    publish(&server, 0, 5).await;
    let reply = server.get("/v1/subscribe?from=1&limit=3").await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(str::trim)
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    server.close().await;
}

/// A query string, extra headers, and a word the 400's reason must contain.
type BadCase = (String, Vec<(&'static str, &'static str)>, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_patterns_get_400_with_the_reason() {
    let server = TestServer::start_with(|c| c.limits.subscribe_term_bytes_max = 100);
    publish(&server, 0, 2).await;
    let long = encode(&format!("https://example.org/{}", "x".repeat(100)));
    let cases: Vec<BadCase> = vec![
        (format!("p={}", encode("not an iri")), vec![], "p:"),
        (format!("s={}", encode("<http://exa mple>")), vec![], "s:"),
        (format!("s={}", encode("_:")), vec![], "s:"),
        (format!("o={}", encode("\"unterminated")), vec![], "o:"),
        ("op=upsert".into(), vec![], "op"),
        ("from=abc".into(), vec![], "from"),
        ("from=-1".into(), vec![], "from"),
        ("from=99".into(), vec![], "beyond the log size"),
        ("format=xml".into(), vec![], "format"),
        (format!("p={long}"), vec![], "subscribe_term_bytes_max"),
        ("".into(), vec![("last-event-id", "x1")], "Last-Event-ID"),
        ("limit=many".into(), vec![], "query string"),
        (
            format!("topic=maintenance&p={}", encode(P)),
            vec![],
            "topic: cannot be combined with p",
        ),
    ];
    for (query, headers, reason) in cases {
        let reply = server
            .get_with(&format!("/v1/subscribe?{query}"), &headers)
            .await;
        let json = reply.assert_error(StatusCode::BAD_REQUEST);
        let message = json["error"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{query}: {message}");
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_the_per_token_limit_get_429_until_one_closes() {
    let server = TestServer::start_with(|c| c.limits.subscribers_per_token_max = 2);
    let a = Stream::open(&server, "/v1/subscribe", &[]).await;
    let b = Stream::open(&server, "/v1/subscribe", &[]).await;
    let refused: Reply = server.get("/v1/subscribe").await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS);
    drop(a);
    // The slot is released when the stream's thread notices the client left.
    let deadline = tokio::time::Instant::now() + STREAM_WAIT;
    loop {
        let response = app(server.state.clone())
            .oneshot(request("GET", "/v1/subscribe", &[], Body::empty()))
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never released"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(b);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudevents_by_parameter_or_accept_carry_the_position_and_the_json_event() {
    let server = TestServer::start();
    publish(&server, 0, 3).await;
    let by_param = Stream::open(&server, "/v1/subscribe?from=0&format=cloudevents", &[])
        .await
        .take(3)
        .await;
    let by_accept = Stream::open(
        &server,
        "/v1/subscribe?from=0",
        &[("accept", "application/cloudevents+json")],
    )
    .await
    .take(3)
    .await;
    assert_eq!(by_param, by_accept);
    for (i, event) in by_param.iter().enumerate() {
        let json: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["id"], i.to_string());
        assert_eq!(json["ledgraphseq"], i as u64);
        let op = if i % 3 == 0 { "remove" } else { "add" };
        assert_eq!(json["type"], format!("dev.ledgraph.event.{op}"));
        assert_eq!(json["data"]["op"], op);
        assert_eq!(json["data"]["o"], format!("\"v{i}\""));
        assert!(json["time"].as_str().unwrap().ends_with('Z'), "{json}");
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_may_come_as_the_access_token_parameter() {
    let server = TestServer::start_with_tokens();
    let bad = server.get("/v1/subscribe?access_token=wrong").await;
    bad.assert_error(StatusCode::UNAUTHORIZED);
    let none = server.get("/v1/subscribe").await;
    none.assert_error(StatusCode::UNAUTHORIZED);
    let uri = format!("/v1/subscribe?access_token={READ_TOKEN}");
    drop(Stream::open(&server, &uri, &[]).await);
    server.close().await;
}

/// The app on a real loopback socket (WebSocket upgrades need a connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_carries_what_sse_carries_and_resumes_with_from() {
    let server = TestServer::start();
    publish(&server, 0, 20).await;
    let (base, serving) = listen(&server).await;
    let uri = format!("{base}/v1/subscribe?from=0&p={}", encode(P));
    let (mut socket, _) = tokio_tungstenite::connect_async(uri.as_str())
        .await
        .unwrap();
    let head = ws_take(&mut socket, 4).await;
    drop(socket);
    publish(&server, 20, 10).await;
    let next = head.last().unwrap()["seq"].as_u64().unwrap() + 1;
    let resumed = format!("{base}/v1/subscribe?from={next}&p={}", encode(P));
    let (mut socket, _) = tokio_tungstenite::connect_async(resumed.as_str())
        .await
        .unwrap();
    let tail = ws_take(&mut socket, 11).await;
    let mut sse = Stream::open(
        &server,
        &format!("/v1/subscribe?from=0&p={}", encode(P)),
        &[],
    )
    .await;
    let whole = sse.take(15).await;
    let via_ws: Vec<serde_json::Value> = head.into_iter().chain(tail).collect();
    let via_sse: Vec<serde_json::Value> = whole
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    assert_eq!(via_ws, via_sse);
    // A limit ends the socket with a normal close.
    let limited = format!("{base}/v1/subscribe?from=0&limit=2&format=cloudevents");
    let (mut socket, _) = tokio_tungstenite::connect_async(limited.as_str())
        .await
        .unwrap();
    let two = ws_take(&mut socket, 2).await;
    assert_eq!(two[1]["id"], "1");
    let close = tokio::time::timeout(STREAM_WAIT, socket.next())
        .await
        .unwrap();
    assert!(
        matches!(
            close,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | None
        ),
        "{close:?}"
    );
    // Bad patterns are refused before the upgrade, with the reason.
    let bad = format!("{base}/v1/subscribe?op=upsert");
    match tokio_tungstenite::connect_async(bad.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST.as_u16());
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    drop((socket, sse));
    serving.abort();
    server.close().await;
}
