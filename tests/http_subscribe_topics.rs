//! `GET /v1/subscribe?topic=…`: with the demo descriptor active, the kernel's alerts reach
//! topic subscribers from the log — exactly the alerts of that topic, in log order, live and
//! from position 0, resumable with `Last-Event-ID` (SSE) or `from` (WebSocket), as JSON or
//! CloudEvents; what the stream carries equals a SPARQL query over the alerts graph; bad topics
//! get 400 with the reason, and clients cannot forge alerts.

mod common;

use std::path::Path;

use axum::http::StatusCode;
use common::http::{TestServer, encode};
use common::sse::{Sse, Stream, listen, ws_take};

const EX: &str = "https://example.org/plant#";
const RULES: &str = "https://example.org/plant/rules#";
const XSD_DECIMAL: &str = "http://www.w3.org/2001/XMLSchema#decimal";
const ALARMS: &str = "plant/alarms";

/// The checked-in demo descriptor, activated.
async fn with_demo() -> TestServer {
    let server = TestServer::start();
    let demo = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptors/demo.lgd"))
        .expect("descriptors/demo.lgd");
    let reply = server
        .post(
            "/v1/descriptors/activate?name=demo",
            "application/octet-stream",
            demo,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    server
}

fn reading(subject: &str, class: &str, value: &str) -> String {
    format!(
        "<urn:test:{subject}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}{class}> .\n\
         <urn:test:{subject}> <{EX}temperatureC> \"{value}\"^^<{XSD_DECIMAL}> .\n"
    )
}

/// Publishes, one transaction each: two hot readings and a freezing one (alarms), a closed
/// work order (another topic), and a normal reading (no alert). Returns the expected alarms:
/// (subject, rule, message) in publish order.
async fn publish_scenario(server: &TestServer) -> Vec<(String, String, String)> {
    let batches = [
        reading("t0", "TemperatureSensor", "95.5"),
        format!(
            "<urn:test:wo1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}WorkOrder> .\n\
             <urn:test:wo1> <{EX}status> \"closed\" .\n"
        ),
        reading("t1", "TemperatureSensor", "20.0"),
        reading("t2", "TemperatureSensor", "120.0"),
        reading("f0", "TemperatureSensor", "-25.0"),
    ];
    for batch in &batches {
        server.publish("application/n-triples", batch).await;
    }
    let hot = "temperature above 90 °C";
    let cold = "temperature at or below -20 °C: check trace heating";
    [
        ("t0", "HighTemperature", hot),
        ("t2", "HighTemperature", hot),
        ("f0", "FreezingTemperature", cold),
    ]
    .iter()
    .map(|(s, r, m)| {
        (
            format!("<urn:test:{s}>"),
            format!("<{RULES}{r}>"),
            (*m).to_owned(),
        )
    })
    .collect()
}

fn parsed(events: &[Sse]) -> Vec<serde_json::Value> {
    events
        .iter()
        .map(|e| {
            let json: serde_json::Value = serde_json::from_str(&e.data).expect("JSON");
            assert_eq!(json["seq"], e.id, "the payload's seq is the SSE id");
            json
        })
        .collect()
}

fn summary(alerts: &[serde_json::Value]) -> Vec<(String, String, String)> {
    alerts
        .iter()
        .map(|a| {
            assert_eq!(a["topic"], ALARMS);
            let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (text("subject"), text("rule"), text("message"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_streams_exactly_its_alerts_in_log_order_live_from_zero_and_resumed() {
    let server = with_demo().await;
    let topic = encode(ALARMS);
    let mut live = Stream::open(&server, &format!("/v1/subscribe?topic={topic}"), &[]).await;
    let expected = publish_scenario(&server).await;
    let v = server.kernel_settled().await;
    assert!(v.mismatches.is_empty(), "{:?}", v.mismatches);

    let live = parsed(&live.take(expected.len()).await);
    assert_eq!(summary(&live), expected);
    let mut whole =
        Stream::open(&server, &format!("/v1/subscribe?topic={topic}&from=0"), &[]).await;
    let whole_events = whole.take(expected.len()).await;
    let whole = parsed(&whole_events);
    assert_eq!(whole, live, "from 0 and live deliver the same alerts");
    let ids: Vec<u64> = whole_events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "log order: {ids:?}");
    // Each alert names the event that raised it, and comes after it in the log.
    for (alert, id) in whole.iter().zip(&ids) {
        let input = alert["input_seq"].as_u64().expect("input_seq");
        assert!(input < *id);
        let event = server.state.log.event(input).expect("the input event");
        assert_eq!(
            Some(event.quad.subject.to_string()),
            alert["subject"].as_str().map(str::to_owned)
        );
        assert_eq!(event.quad.predicate.as_str(), format!("{EX}temperatureC"));
    }

    // The stream equals the alerts graph, queried with SPARQL.
    let query = format!(
        "PREFIX lg: <https://ledgraph.dev/ns#>
         SELECT ?s WHERE {{ GRAPH <urn:ledgraph:alerts> {{
           ?a lg:topic \"{ALARMS}\" ; lg:subject ?s }} }}"
    );
    server.caught_up().await;
    let subjects = server.select_values(&query, "s").await;
    // (select_values sorts.)
    let mut streamed: Vec<String> = expected
        .iter()
        .map(|(s, _, _)| s.trim_matches(['<', '>']).to_owned())
        .collect();
    streamed.sort();
    assert_eq!(subjects, streamed);

    // Resume: the first two, then Last-Event-ID; the union is the uninterrupted stream.
    let mut first =
        Stream::open(&server, &format!("/v1/subscribe?topic={topic}&from=0"), &[]).await;
    let head = first.take(2).await;
    drop(first);
    let last = head[1].id.to_string();
    let mut second = Stream::open(
        &server,
        &format!("/v1/subscribe?topic={topic}"),
        &[("last-event-id", &last)],
    )
    .await;
    let tail = second.take(expected.len() - 2).await;
    let resumed: Vec<Sse> = head.into_iter().chain(tail).collect();
    assert_eq!(resumed, whole_events);

    // Another topic: only its own alert; as a CloudEvent.
    let mut orders = Stream::open(
        &server,
        &format!(
            "/v1/subscribe?topic={}&from=0&format=cloudevents",
            encode("plant/workorders")
        ),
        &[],
    )
    .await;
    let event = orders.take(1).await.remove(0);
    let ce: serde_json::Value = serde_json::from_str(&event.data).expect("JSON");
    assert_eq!(ce["type"], "dev.ledgraph.alert");
    assert_eq!(ce["subject"], "plant/workorders");
    assert_eq!(ce["id"], event.id.to_string());
    assert_eq!(ce["data"]["message"], "work order closed");
    assert_eq!(ce["data"]["subject"], "<urn:test:wo1>");
    assert!(
        event.id < ids[1],
        "the work order came between the two hot readings"
    );

    // WebSocket: the same alerts, resumed with from.
    let (base, serving) = listen(&server).await;
    let uri = format!("{base}/v1/subscribe?topic={topic}&from=0");
    let (mut socket, _) = tokio_tungstenite::connect_async(uri.as_str())
        .await
        .expect("socket");
    let head = ws_take(&mut socket, 1).await;
    drop(socket);
    let next = head[0]["seq"].as_u64().expect("seq") + 1;
    let uri = format!("{base}/v1/subscribe?topic={topic}&from={next}");
    let (mut socket, _) = tokio_tungstenite::connect_async(uri.as_str())
        .await
        .expect("socket");
    let tail = ws_take(&mut socket, expected.len() - 1).await;
    let via_ws: Vec<serde_json::Value> = head.into_iter().chain(tail).collect();
    assert_eq!(via_ws, whole);
    serving.abort();
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_topics_get_400_with_the_reason_and_alerts_cannot_be_forged() {
    let server = TestServer::start_with(|c| c.limits.subscribe_term_bytes_max = 32);
    let cases = [
        ("topic=".to_owned(), "topic: empty"),
        (format!("topic={}", encode(" plant")), "surrounding spaces"),
        (format!("topic={}", encode("a\u{1}b")), "control characters"),
        (
            format!("topic={}", "x".repeat(33)),
            "subscribe_term_bytes_max",
        ),
        (
            format!("topic=a&s={}&op=add", encode("urn:x")),
            "cannot be combined with s, op",
        ),
        (
            "topic=a&format=rdf-patch".to_owned(),
            "an alert is not one triple",
        ),
    ];
    for (query, reason) in cases {
        let reply = server.get(&format!("/v1/subscribe?{query}")).await;
        let json = reply.assert_error(StatusCode::BAD_REQUEST);
        let message = json["error"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{query}: {message}");
    }
    for graph in ["urn:ledgraph:alerts", "urn:ledgraph:receipts"] {
        let forged = format!(
            "<urn:ledgraph:alert:0:0> <https://ledgraph.dev/ns#topic> \"{ALARMS}\" <{graph}> .\n"
        );
        let reply = server
            .post("/v1/events", "application/n-quads", forged)
            .await;
        reply.assert_error(StatusCode::BAD_REQUEST);
    }
    server.close().await;
}
