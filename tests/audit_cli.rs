//! `ledgraph audit subject IRI --server URL`: the history printed with every event proven in
//! the signed log, and a server that lies — about a row, an entry, or which events exist
//! before its checkpoint — caught with exit code 3.

mod common;

use std::process::{Command, Output};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use common::http::{TestServer, listen_router};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::http::{AppState, app};
use oxrdf::{GraphName, Literal, NamedNode, Quad};
use tower::ServiceExt;

const S: &str = "https://example.org/audited";

async fn ledgraph(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ledgraph"))
            .args(&args)
            .env_remove("LEDGRAPH_SERVER")
            .env_remove("LEDGRAPH_TOKEN")
            .output()
            .expect("run ledgraph")
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A server whose log holds three events about `S` (two actors) and one about something else.
async fn server() -> TestServer {
    let server = TestServer::start();
    server
        .publish(
            "application/n-triples",
            &format!(
                "<{S}> <https://example.org/p> \"one\" .\n<https://example.org/other> <https://example.org/p> \"x\" .\n<{S}> <https://example.org/n> \"07\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n"
            ),
        )
        .await;
    let other = ActorKey(common::publisher_key().public_key());
    let quad = Quad::new(
        NamedNode::new_unchecked(S),
        NamedNode::new_unchecked("https://example.org/p"),
        Literal::new_simple_literal("one"),
        GraphName::DefaultGraph,
    );
    server
        .state
        .log
        .append(Batch::unsigned(other, vec![(Op::Remove, quad)]))
        .unwrap();
    server.caught_up().await;
    let size = server.log_size();
    let projections = server.state.projections.clone();
    assert!(
        tokio::task::spawn_blocking(
            move || projections.wait_events(size, common::http::PROJECTION_WAIT)
        )
        .await
        .unwrap()
    );
    server
}

fn vkey(server: &TestServer) -> String {
    server
        .dir
        .path()
        .join("data")
        .join(ledgraph::keys::VKEY_FILE)
        .display()
        .to_string()
}

fn audit_args(url: &str, vkey: &str) -> Vec<String> {
    ["audit", "subject", S, "--server", url, "--vkey", vkey]
        .map(str::to_owned)
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_server_s_history_is_proven_event_by_event() {
    let server = server().await;
    let url = server.listen().await;
    let out = ledgraph(audit_args(&url, &vkey(&server))).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(3 rows)"), "{stdout}");
    assert!(stdout.contains("remove"), "{stdout}");
    assert!(
        stdout.contains("ok: 3 events about <https://example.org/audited> proven"),
        "{stdout}"
    );
    // Trust on first use works too, with a note.
    let out = ledgraph(
        ["audit", "subject", S, "--server", &url]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--vkey"));
    server.close().await;
}

/// How the lying server changes its answers.
#[derive(Clone, Copy, Debug)]
enum Lie {
    /// The history row of the first event shows another object.
    RowObject,
    /// The history lists an event about another subject as one about `S`.
    ForeignEvent,
    /// `/v1/log/entries` serves another event's bytes for the first event.
    Entry,
    /// The history shows another actor.
    Actor,
}

async fn lying(State((state, lie)): State<(AppState, Lie)>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap();
    let mut json: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(j) => j,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    match (lie, path.as_str()) {
        (Lie::RowObject, "/v1/queries/audit/subject-history") => {
            json["results"]["bindings"][0]["o"]["value"] = "forged".into();
        }
        (Lie::Actor, "/v1/queries/audit/subject-history") => {
            json["results"]["bindings"][0]["actor"]["value"] = "00".repeat(32).into();
        }
        (Lie::ForeignEvent, "/v1/queries/audit/subject-history") => {
            // Event 1 is about <https://example.org/other>.
            json["results"]["bindings"][0]["seq"]["value"] = "1".into();
        }
        (Lie::Entry, "/v1/log/entries") if query.contains("from=0") => {
            let other = json.clone();
            let swapped = app(state)
                .oneshot(
                    Request::get("/v1/log/entries?from=1&limit=1")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let b = to_bytes(swapped.into_body(), usize::MAX).await.unwrap();
            let swapped: serde_json::Value = serde_json::from_slice(&b).unwrap();
            json = other;
            json["entries"][0]["entry"] = swapped["entries"][0]["entry"].clone();
        }
        _ => {}
    }
    let mut response = axum::Json(json).into_response();
    *response.status_mut() = parts.status;
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_server_is_caught_with_exit_code_3() {
    let server = server().await;
    let vkey = vkey(&server);
    for lie in [Lie::RowObject, Lie::ForeignEvent, Lie::Entry, Lie::Actor] {
        let router = axum::Router::new()
            .fallback(lying)
            .with_state((server.state.clone(), lie));
        let url = listen_router(router).await;
        let out = ledgraph(audit_args(&url, &vkey)).await;
        assert_eq!(out.status.code(), Some(3), "{lie:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("verification failed"), "{lie:?}: {stderr}");
        eprintln!("{lie:?}: {}", stderr.trim());
    }
    server.close().await;
}
