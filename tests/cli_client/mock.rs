//! A small axum mock of the server API over a real signed log: it records every request
//! (method, path, query, media types, token, body) and can tamper with the entries it serves.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ledgraph::event::cloudevents::{parse_cloudevent, parse_cloudevents_batch};
use ledgraph::event::input::{parse_json_events, parse_ntriples, parse_turtle};
use ledgraph::event::rdf_patch::parse_rdf_patch;
use ledgraph::event::{ActorKey, Batch};
use ledgraph::log::{Log, LogConfig};
use serde_json::json;

use crate::common;

/// One request as the mock saw it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub content_type: String,
    pub accept: String,
    pub auth: String,
    pub body: Vec<u8>,
}

pub struct Mock {
    pub log: Arc<Log>,
    pub seen: Mutex<Vec<Seen>>,
    pub tamper_entries: AtomicBool,
}

pub const SELECT_JSON: &str = r#"{"head":{"vars":["s","label"]},"results":{"bindings":[
 {"s":{"type":"uri","value":"https://e.org/a"},"label":{"type":"literal","value":"A \"quoted\"","xml:lang":"en"}},
 {"s":{"type":"bnode","value":"b0"}}]}}"#;

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(State(mock): State<Arc<Mock>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: query.clone(),
        content_type: header(header::CONTENT_TYPE),
        accept: header(header::ACCEPT),
        auth: header(header::AUTHORIZATION),
        body: to_bytes(body, 1 << 24).await.unwrap().to_vec(),
    };
    mock.seen.lock().unwrap().push(seen.clone());
    let num = |key: &str| query.get(key).and_then(|v| v.parse::<u64>().ok());
    let log = mock.log.clone();
    match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/v1/log/checkpoint") => log.checkpoint().note.clone().into_response(),
        ("GET", "/v1/log/vkey") => {
            format!("{}\n", common::node_key().verifier().to_vkey()).into_response()
        }
        ("GET", "/v1/log/proof/inclusion") => {
            let proof = log
                .inclusion_proof(num("seq").unwrap(), num("size"))
                .unwrap();
            json_response(StatusCode::OK, serde_json::to_value(proof).unwrap())
        }
        ("GET", "/v1/log/proof/consistency") => {
            let proof = log
                .consistency_proof(num("from").unwrap(), num("to").unwrap())
                .unwrap();
            json_response(StatusCode::OK, serde_json::to_value(proof).unwrap())
        }
        ("GET", "/v1/log/entries") => {
            let from = num("from").unwrap_or(0);
            let end = (from + num("limit").unwrap_or(100)).min(log.size());
            let entries: Vec<_> = (from..end)
                .map(|seq| {
                    let mut bytes = log.entry(seq).unwrap().to_vec();
                    if mock.tamper_entries.load(Ordering::SeqCst) {
                        let last = bytes.len() - 1;
                        bytes[last] ^= 1;
                    }
                    json!({"seq": seq, "entry": base64::engine::general_purpose::STANDARD.encode(&bytes)})
                })
                .collect();
            json_response(
                StatusCode::OK,
                json!({"entries": entries, "size": log.size()}),
            )
        }
        ("POST", "/v1/events") => publish(log, &seen).await,
        (_, "/sparql") => sparql(&seen),
        _ => json_response(StatusCode::NOT_FOUND, json!({"error": "no such route"})),
    }
}

async fn publish(log: Arc<Log>, seen: &Seen) -> Response {
    if seen.auth != "Bearer s3cret" {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "this route needs a bearer token with the \"publish\" scope"}),
        );
    }
    let parse = match seen.content_type.as_str() {
        "application/n-triples" => parse_ntriples,
        "text/turtle" => parse_turtle,
        "application/json" => parse_json_events,
        "application/rdf-patch" => parse_rdf_patch,
        "application/cloudevents+json" => parse_cloudevent,
        "application/cloudevents-batch+json" => parse_cloudevents_batch,
        other => {
            return json_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": format!("unsupported media type {other}")}),
            );
        }
    };
    let changes = match parse(&seen.body) {
        Ok(changes) => changes,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": e.message, "position": e.position.to_string()}),
            );
        }
    };
    let batch = Batch::unsigned(ActorKey(common::node_key().public_key()), changes);
    let ack = tokio::task::spawn_blocking(move || log.append(batch))
        .await
        .unwrap()
        .unwrap();
    json_response(
        StatusCode::CREATED,
        json!({
            "first_seq": ack.first_seq, "count": ack.count,
            "last_seq": ack.first_seq + ack.count - 1,
            "tree_size": ack.checkpoint.checkpoint.size, "checkpoint": ack.checkpoint.note,
        }),
    )
}

fn sparql(seen: &Seen) -> Response {
    let query = match seen.method.as_str() {
        "GET" => seen.query.get("query").cloned().unwrap_or_default(),
        _ => String::from_utf8_lossy(&seen.body).into_owned(),
    };
    if query.contains("BROKEN") {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "unexpected token", "position": "1:8"}),
        );
    }
    let (media_type, body) = if seen.accept.starts_with("text/csv") {
        ("text/csv", "s,label\r\nhttps://e.org/a,A\r\n".to_owned())
    } else if seen.accept.starts_with("text/tab-separated-values") {
        (
            "text/tab-separated-values",
            "?s\t?label\n<https://e.org/a>\t\"A\"\n".to_owned(),
        )
    } else if query.starts_with("ASK") {
        (
            "application/sparql-results+json",
            r#"{"head":{},"boolean":true}"#.to_owned(),
        )
    } else {
        ("application/sparql-results+json", SELECT_JSON.to_owned())
    };
    ([(header::CONTENT_TYPE, media_type)], Body::from(body)).into_response()
}

/// A mock server over a fresh log in `dir`, and its URL; the runtime must outlive the test.
pub fn serve(dir: &Path) -> (String, Arc<Mock>, tokio::runtime::Runtime) {
    let (log, _) = common::open(dir, LogConfig::default());
    let mock = Arc::new(Mock {
        log: Arc::new(log),
        seen: Mutex::new(Vec::new()),
        tamper_entries: AtomicBool::new(false),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(handle).with_state(mock.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, mock, runtime)
}
