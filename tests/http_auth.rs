//! Bearer tokens and scopes over every route in `ROUTES`, and when the server may run open.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::StatusCode;
use common::http::{ADMIN_TOKEN, PUBLISH_TOKEN, READ_TOKEN, Reply, TestServer, encode, request};
use ledgraph::http::ROUTES;
use ledgraph::http::auth::Scope;
use ledgraph::http::server::{self, ServerConfig, ServerError};

/// The routes anyone may call.
const OPEN_ROUTES: &[&str] = &[
    "/",
    "/assets/app.js",
    "/assets/app.css",
    "/assets/icon.svg",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
];

/// One request: method, URI, headers, body.
struct Call {
    method: &'static str,
    uri: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Call {
    fn new(method: &'static str, uri: impl Into<String>) -> Self {
        Call {
            method,
            uri: uri.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers.push(("content-type", content_type.to_owned()));
        self.body = body.into();
        self
    }

    async fn send(&self, server: &TestServer, auth: Option<&str>) -> Reply {
        let mut headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        if let Some(value) = auth {
            headers.push(("authorization", value));
        }
        server
            .send(request(
                self.method,
                &self.uri,
                &headers,
                Body::from(self.body.clone()),
            ))
            .await
    }
}

/// A well-formed request for `(method, path)` of `ROUTES`, and the scope it needs. Panics on a
/// route this table does not know, so a new route cannot slip past the matrix.
fn valid_request(method: &str, path: &str) -> (Scope, Call) {
    let nt = "<https://example.org/auth/s> <https://example.org/p> \"v\" .\n";
    let ask = encode("ASK { ?s ?p ?o }");
    let graph = encode("https://example.org/auth/g");
    match (method, path) {
        ("post", "/v1/events") => (
            Scope::Publish,
            Call::new("POST", path).with_body("application/n-triples", nt),
        ),
        ("post", "/v1/validate") => (
            Scope::Publish,
            Call::new("POST", path).with_body("application/n-triples", nt),
        ),
        // Shapes that hold for anything the later routes of the matrix write.
        ("post", "/v1/shapes") => (
            Scope::Admin,
            Call::new("POST", path).with_body(
                "text/turtle",
                "<urn:S> a <http://www.w3.org/ns/shacl#NodeShape> ;\n\
                 <http://www.w3.org/ns/shacl#targetClass> <urn:NoInstances> ;\n\
                 <http://www.w3.org/ns/shacl#property> [ <http://www.w3.org/ns/shacl#path> <urn:p> ; <http://www.w3.org/ns/shacl#minCount> 1 ] .\n",
            ),
        ),
        ("get", "/v1/descriptors") => (Scope::Read, Call::new("GET", path)),
        // The same descriptor for every scope: the first activation records it, the others
        // find it active.
        ("post", "/v1/descriptors/activate") => (
            Scope::Admin,
            Call::new("POST", path).with_body("application/octet-stream", demo_descriptor()),
        ),
        // `limit` ends the stream, so the reply can be read whole.
        ("get", "/v1/subscribe") => (
            Scope::Read,
            Call::new("GET", format!("{path}?from=0&limit=1")),
        ),
        ("get", "/v1/migrations") => (Scope::Read, Call::new("GET", path)),
        ("post", "/v1/migrations/{name}") => (
            Scope::Admin,
            Call::new("POST", "/v1/migrations/0001_auth").with_body(
                "application/sparql-update",
                "INSERT DATA { <https://example.org/auth/m> <https://example.org/p> \"m\" }",
            ),
        ),
        ("get", "/v1/log/checkpoint") | ("get", "/v1/log/vkey") | ("get", "/v1/log/entries") => {
            (Scope::Read, Call::new("GET", path))
        }
        ("get", "/v1/log/proof/inclusion") => {
            (Scope::Read, Call::new("GET", format!("{path}?seq=0")))
        }
        ("get", "/v1/log/proof/consistency") => {
            (Scope::Read, Call::new("GET", format!("{path}?from=1&to=1")))
        }
        ("get", "/v1/queries") => (Scope::Read, Call::new("GET", path)),
        ("get", "/v1/queries/{group}/{name}") => (
            Scope::Read,
            Call::new(
                "GET",
                format!(
                    "/v1/queries/audit/subject-history?s={}",
                    encode("https://example.org/auth/s")
                ),
            ),
        ),
        ("get", "/sparql") | ("get", "/query") => {
            (Scope::Read, Call::new("GET", format!("{path}?query={ask}")))
        }
        ("post", "/sparql") => (
            Scope::Read,
            Call::new("POST", path)
                .with_body("application/x-www-form-urlencoded", format!("query={ask}")),
        ),
        ("post", "/query") => (
            Scope::Read,
            Call::new("POST", path).with_body("application/sparql-query", "ASK { ?s ?p ?o }"),
        ),
        ("post", "/update") => (
            Scope::Publish,
            Call::new("POST", path).with_body(
                "application/sparql-update",
                "INSERT DATA { <https://example.org/auth/u> <https://example.org/p> \"u\" }",
            ),
        ),
        ("get", "/store") => (Scope::Read, Call::new("GET", format!("{path}?default"))),
        ("head", "/store") => (Scope::Read, Call::new("HEAD", format!("{path}?default"))),
        ("put", "/store") => (
            Scope::Publish,
            Call::new("PUT", format!("{path}?graph={graph}"))
                .with_body("application/n-triples", nt),
        ),
        ("post", "/store") => (
            Scope::Publish,
            Call::new("POST", format!("{path}?graph={graph}"))
                .with_body("application/n-triples", nt),
        ),
        ("delete", "/store") => (
            Scope::Publish,
            Call::new("DELETE", format!("{path}?graph={graph}")),
        ),
        other => panic!("the auth matrix does not know route {other:?}: add it"),
    }
}

/// The demo descriptor, compiled once per test binary.
fn demo_descriptor() -> Vec<u8> {
    static DEMO: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (ontology, shapes) = (root.join("ontology"), root.join("shapes"));
        ledgraph::descriptor::compile_paths(&[&ontology, &shapes], &common::node_key())
            .expect("the demo compiles")
            .bytes
    })
    .clone()
}

/// Waits until the kernel projection has read the whole log (it appends derived transactions
/// on its own thread).
async fn kernel_settled(server: &TestServer) {
    let kernel = &server.state.kernel.applied;
    for _ in 0..600 {
        let size = server.log_size();
        if kernel.load(std::sync::atomic::Ordering::Acquire) >= size {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if server.log_size() == size {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the kernel projection did not catch up with the log");
}

fn token_of(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => READ_TOKEN,
        Scope::Publish => PUBLISH_TOKEN,
        Scope::Admin => ADMIN_TOKEN,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scoped_route_checks_its_token() {
    let server = TestServer::start_with_tokens();
    // Something in the log, so proofs have a leaf to prove.
    let seed = Call::new("POST", "/v1/events")
        .with_body(
            "application/n-triples",
            "<https://example.org/seed> <https://example.org/p> \"s\" .\n",
        )
        .send(&server, Some(&format!("Bearer {ADMIN_TOKEN}")))
        .await;
    assert_eq!(seed.status, StatusCode::CREATED, "{}", seed.text());
    server.caught_up().await;

    let mut checked = 0;
    for &(method, path) in ROUTES {
        if OPEN_ROUTES.contains(&path) {
            continue;
        }
        let (needed, call) = valid_request(method, path);
        let what = format!("{} {}", call.method, call.uri);
        // With the demo descriptor active, the kernel appends a derived transaction after each
        // accepted one: let it finish so the log size only moves for this request.
        kernel_settled(&server).await;
        let before = server.log_size();

        let none = call.send(&server, None).await;
        assert_eq!(
            none.status,
            StatusCode::UNAUTHORIZED,
            "{what} without a token: {}",
            none.text()
        );
        assert!(
            none.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{what}: a 401 names the Bearer scheme"
        );
        let unknown = call
            .send(&server, Some("Bearer not-a-known-token-at-all"))
            .await;
        assert_eq!(
            unknown.status,
            StatusCode::UNAUTHORIZED,
            "{what} with an unknown token"
        );
        let basic = call
            .send(&server, Some(&format!("Basic {READ_TOKEN}")))
            .await;
        assert_eq!(
            basic.status,
            StatusCode::UNAUTHORIZED,
            "{what} with a Basic credential"
        );
        for lower in [Scope::Read, Scope::Publish]
            .into_iter()
            .filter(|s| *s < needed)
        {
            let reply = call
                .send(&server, Some(&format!("Bearer {}", token_of(lower))))
                .await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{what} with a {lower:?} token: {}",
                reply.text()
            );
            if method != "head" {
                reply.assert_error(StatusCode::FORBIDDEN);
            }
        }
        if method != "head" {
            for reply in [&none, &unknown, &basic] {
                reply.assert_error(StatusCode::UNAUTHORIZED);
            }
        }
        assert_eq!(
            server.log_size(),
            before,
            "{what}: a refused request appended events"
        );

        for scope in [Scope::Read, Scope::Publish, Scope::Admin]
            .into_iter()
            .filter(|s| *s >= needed)
        {
            let reply = call
                .send(&server, Some(&format!("Bearer {}", token_of(scope))))
                .await;
            assert!(
                reply.status != StatusCode::UNAUTHORIZED && reply.status != StatusCode::FORBIDDEN,
                "{what} with a {scope:?} token: {} {}",
                reply.status,
                reply.text()
            );
            // DELETE of a graph an earlier scope already deleted is a 404, still past auth.
            assert!(
                reply.status.is_success()
                    || (method == "delete" && reply.status == StatusCode::NOT_FOUND),
                "{what} with a {scope:?} token: {} {}",
                reply.status,
                reply.text()
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        ROUTES.len() - OPEN_ROUTES.len(),
        "every scoped route was checked"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_routes_need_no_token_even_when_tokens_are_configured() {
    // A stand-in build, so the UI routes answer whether or not `npm run build` has run.
    let web = tempfile::tempdir().expect("web dir");
    common::web::fake_build(web.path());
    let web_dir = web.path().to_owned();
    let server = TestServer::start_with(|c| {
        c.tokens
            .add_from_env_value(common::http::TOKENS_ENV)
            .expect("valid test tokens");
        c.web_dir = web_dir;
    });
    for &(method, path) in ROUTES.iter().filter(|(_, p)| OPEN_ROUTES.contains(p)) {
        assert_eq!(method, "get");
        let reply = server.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.text());
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_refused_before_their_input_is_examined() {
    let server = TestServer::start_with_tokens();
    let no_token = [
        Call::new("POST", "/v1/events").with_body("image/png", "x"),
        Call::new("POST", "/v1/events").with_body("application/n-triples", "not rdf"),
        Call::new("POST", "/sparql").with_body("image/png", "x"),
        Call::new("POST", "/sparql").with_body("application/sparql-query; charset=utf-16", "x"),
        Call::new("POST", "/sparql").with_body("application/sparql-query", "NOT SPARQL"),
        Call::new("POST", "/update").with_body("text/plain", "x"),
        Call::new("GET", "/sparql?query=a&query=b"),
        Call::new("GET", "/sparql?update=x"),
        Call::new("PUT", "/store?graph=not%20an%20iri").with_body("text/turtle", "x"),
        Call::new("GET", "/store?graph=not%20an%20iri"),
        Call::new("GET", "/v1/log/proof/inclusion?seq=999"),
        Call::new("GET", "/v1/log/proof/inclusion?seq=abc"),
        Call::new("GET", "/v1/log/entries?from=-1"),
        Call::new("POST", "/v1/validate").with_body("text/turtle", "not turtle"),
        Call::new("POST", "/v1/shapes").with_body("text/turtle", "not turtle"),
        Call::new("POST", "/v1/shapes").with_body("image/png", "x"),
    ];
    let mut answered_before_auth = Vec::new();
    for call in &no_token {
        let reply = call.send(&server, None).await;
        if reply.status != StatusCode::UNAUTHORIZED {
            answered_before_auth.push(format!(
                "{} {} -> {} {}",
                call.method,
                call.uri,
                reply.status,
                reply.text()
            ));
        }
    }
    assert!(
        answered_before_auth.is_empty(),
        "without a token every request must be 401 whatever its input; these were not:\n{}",
        answered_before_auth.join("\n")
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_a_loopback_server_is_open() {
    let server = TestServer::start();
    let reply = server.get("/v1/log/checkpoint").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = server
        .post(
            "/v1/events",
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"open\" .\n",
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let reply = server
        .post("/update", "application/sparql-update", "CLEAR DEFAULT")
        .await;
    assert!(reply.status.is_success(), "{}", reply.text());
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback_without_tokens_is_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path().join("data"));
    config.demo_data = false;
    config.bind = "[::1]:0".parse().expect("addr");
    match server::open(&config) {
        Ok(opened) => server::close(opened.state).await.expect("close"),
        Err(e) => panic!("a loopback bind without tokens must open: {e}"),
    }
}

#[test]
fn a_network_bind_without_tokens_is_refused() {
    for bind in ["0.0.0.0:7878", "192.0.2.1:80", "[::]:7878"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let mut config = ServerConfig::new(data.clone());
        config.demo_data = false;
        config.bind = bind.parse::<SocketAddr>().expect("addr");
        match server::open(&config) {
            Err(ServerError::OpenOnNetwork(addr)) => assert_eq!(addr, config.bind),
            Err(e) => panic!("{bind}: expected OpenOnNetwork, got {e}"),
            Ok(_) => panic!("{bind}: opened without tokens on a network address"),
        }
        assert!(
            !data.exists(),
            "{bind}: the refusal happens before touching the data directory"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_bind_with_tokens_opens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path().join("data"));
    config.demo_data = false;
    config.bind = "0.0.0.0:0".parse().expect("addr");
    config
        .tokens
        .add_from_env_value(common::http::TOKENS_ENV)
        .expect("tokens");
    match server::open(&config) {
        Ok(opened) => server::close(opened.state).await.expect("close"),
        Err(e) => panic!("a network bind with tokens must open: {e}"),
    }
}
