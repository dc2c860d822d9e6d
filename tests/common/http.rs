//! Helpers for the HTTP integration tests: a server state on a temporary data directory,
//! requests sent through the whole router with `oneshot` (no socket), replies read whole.
//!
//! [`TestServer::listen`] also serves the app on a loopback port for the CLI binary; spawning
//! `ledgraph serve` itself is left to the tests that need the whole process.

use std::time::Duration;

/// How long a test waits for the kernel to derive from the whole log.
const KERNEL_CATCH_UP: Duration = Duration::from_secs(60);

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use ledgraph::http::server::{self, ServerConfig};
use ledgraph::http::{AppState, app};
use oxrdf::Quad;
use tempfile::TempDir;
use tower::ServiceExt;

use ledgraph::event::{Event, Op};

/// How long a test waits for the state projection before failing; generous because the
/// machine has two cores and tests run in parallel.
pub const PROJECTION_WAIT: Duration = Duration::from_secs(20);

/// Token secrets with each scope, in the `LEDGRAPH_TOKENS` form `TOKENS_ENV` adds.
pub const READ_TOKEN: &str = "reader-secret-0000000001";
pub const PUBLISH_TOKEN: &str = "publisher-secret-00000001";
pub const ADMIN_TOKEN: &str = "admin-secret-000000000001";
pub const TOKENS_ENV: &str = "reader-secret-0000000001=read;publisher-secret-00000001=publish;admin-secret-000000000001=admin";

/// One opened data directory with its projections running.
pub struct TestServer {
    pub state: AppState,
    /// Kept so the directory lives as long as the server.
    pub dir: TempDir,
}

impl TestServer {
    /// No tokens (open, loopback), no demo data.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Like [`TestServer::start`], with the config adjusted before opening.
    pub fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(dir.path().join("data"));
        config.demo_data = false;
        adjust(&mut config);
        let opened = match server::open(&config) {
            Ok(opened) => opened,
            Err(e) => panic!("opening the server state: {e}"),
        };
        TestServer {
            state: opened.state,
            dir,
        }
    }

    /// With the three test tokens (read, publish, admin) configured.
    pub fn start_with_tokens() -> Self {
        Self::start_with(|c| {
            c.tokens
                .add_from_env_value(TOKENS_ENV)
                .expect("valid test tokens");
        })
    }

    pub fn log_size(&self) -> u64 {
        self.state.log.size()
    }

    /// Sends one request through the whole application (all layers, fallback included).
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("read the response body");
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(request("GET", uri, &[], Body::empty())).await
    }

    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(request("GET", uri, headers, Body::empty())).await
    }

    /// POST with a Content-Type.
    pub async fn post(&self, uri: &str, content_type: &str, body: impl Into<Body>) -> Reply {
        self.send(request(
            "POST",
            uri,
            &[("content-type", content_type)],
            body.into(),
        ))
        .await
    }

    /// POST /v1/events, asserting 201.
    pub async fn publish(&self, content_type: &str, body: &str) -> serde_json::Value {
        let reply = self.post("/v1/events", content_type, body.to_owned()).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "publishing {content_type}: {}",
            reply.text()
        );
        reply.json()
    }

    /// Waits until the kernel has read the whole log and nothing is left to derive (a
    /// descriptor is active), then returns the re-execution of every recorded step.
    pub async fn kernel_settled(&self) -> ledgraph::kernel::follow::Verification {
        let started = std::time::Instant::now();
        loop {
            let reader = self.state.log.reader().clone();
            let v = tokio::task::spawn_blocking(move || ledgraph::kernel::follow::verify(&reader))
                .await
                .expect("task")
                .expect("verify runs");
            let applied = self
                .state
                .kernel
                .applied
                .load(std::sync::atomic::Ordering::Acquire);
            if v.missing.is_empty() && applied >= self.log_size() {
                return v;
            }
            assert!(
                started.elapsed() < KERNEL_CATCH_UP,
                "the kernel did not catch up: {v:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the state projection has applied the whole log.
    pub async fn caught_up(&self) {
        let size = self.state.log.size();
        let projections = self.state.projections.clone();
        let done =
            tokio::task::spawn_blocking(move || projections.wait_state(size, PROJECTION_WAIT))
                .await
                .expect("wait task");
        assert!(
            done,
            "the state projection did not reach {size} events within {PROJECTION_WAIT:?} (at {}; failure: {:?})",
            self.state.projections.state_applied(),
            self.state.projections.failure()
        );
    }

    /// The logged events `from..size`.
    pub fn events_from(&self, from: u64) -> Vec<Event> {
        (from..self.log_size())
            .map(|seq| match self.state.log.event(seq) {
                Ok(event) => event,
                Err(e) => panic!("reading event {seq}: {e}"),
            })
            .collect()
    }

    /// The logged changes `from..size` as (op, quad).
    pub fn changes_from(&self, from: u64) -> Vec<(Op, Quad)> {
        self.events_from(from)
            .into_iter()
            .map(|e| (e.op, e.quad))
            .collect()
    }

    /// The logged changes `from..size` as sorted `op s p o g` lines (`g` is `DEFAULT` for the
    /// default graph), for comparing a write's effect regardless of the order it was computed in.
    pub fn logged(&self, from: u64) -> Vec<String> {
        let mut lines: Vec<String> = self
            .changes_from(from)
            .into_iter()
            .map(|(op, q)| {
                format!(
                    "{} {} {} {} {}",
                    op.as_str(),
                    q.subject,
                    q.predicate,
                    q.object,
                    q.graph_name
                )
            })
            .collect();
        lines.sort();
        lines
    }

    /// Which of the events `from..size` end their transaction.
    pub fn transaction_ends_from(&self, from: u64) -> Vec<bool> {
        (from..self.log_size())
            .map(|seq| match self.state.log.ends_transaction(seq) {
                Ok(ends) => ends,
                Err(e) => panic!("ends_transaction({seq}): {e}"),
            })
            .collect()
    }

    /// Runs a SELECT through `GET /sparql` and returns the JSON bindings.
    pub async fn select(&self, query: &str) -> Vec<serde_json::Value> {
        let reply = self.get(&format!("/sparql?query={}", encode(query))).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
        let json = reply.json();
        json["results"]["bindings"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no bindings in {json}"))
    }

    /// The sorted values of variable `var` over a SELECT's solutions.
    pub async fn select_values(&self, query: &str, var: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .select(query)
            .await
            .iter()
            .filter_map(|b| b[var]["value"].as_str().map(str::to_owned))
            .collect();
        values.sort();
        values
    }

    /// Runs an ASK through `GET /sparql`.
    pub async fn ask(&self, query: &str) -> bool {
        let reply = self.get(&format!("/sparql?query={}", encode(query))).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
        let json = reply.json();
        json["boolean"]
            .as_bool()
            .unwrap_or_else(|| panic!("not an ASK result: {json}"))
    }

    /// Serves the whole application on a loopback socket, for clients that need one (the CLI
    /// binary, WebSockets): the base URL. It serves until the test's runtime stops.
    pub async fn listen(&self) -> String {
        listen_router(app(self.state.clone())).await
    }

    /// Stops the projections and closes the log.
    pub async fn close(self) {
        let TestServer { state, dir } = self;
        let closed = tokio::time::timeout(Duration::from_secs(20), server::close(state)).await;
        match closed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("closing the server state: {e}"),
            Err(_) => panic!("closing the server state took over 20 s"),
        }
        drop(dir);
    }
}

/// Serves `router` on a loopback socket until the runtime stops: the base URL.
pub async fn listen_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// A request with headers.
pub fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("valid test request")
}

/// Percent-encodes a query-string or form value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} response is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of Content-Type, without parameters.
    pub fn media_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// Asserts an error status with the JSON error body every route answers with.
    pub fn assert_error(&self, status: StatusCode) -> serde_json::Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        let json = self.json();
        assert!(
            json["error"].as_str().is_some_and(|m| !m.is_empty()),
            "error body without a message: {json}"
        );
        json
    }
}
