//! The web UI as the server sends it (`src/http/web.rs`): the page and its assets from the
//! build directory, precompressed when accepted, every web response under a strict CSP; a page
//! that says how to build the UI when there is no build; nothing else of the disk reachable;
//! `ledgraph serve` taking the directory from `--web-dir` or `LEDGRAPH_WEB_DIR`.
//!
//! The build directories here are made by the tests (a few bytes each), so these run without
//! Node; tests/web/ drives the real build in Chromium.

mod common;

use std::path::Path;

use axum::http::StatusCode;
use common::http::TestServer;
use common::web::{APP_JS, fake_build};
use ledgraph::http::web::{ASSETS, CONTENT_SECURITY_POLICY};

fn server_with_build() -> (TestServer, tempfile::TempDir) {
    let web = tempfile::tempdir().expect("web dir");
    fake_build(web.path());
    let dir = web.path().to_owned();
    (TestServer::start_with(|c| c.web_dir = dir), web)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_from_the_build() {
    let (server, _web) = server_with_build();
    let page = server.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.media_type(), "text/html");
    assert!(
        page.text().ends_with("<body>ui</body></html>"),
        "{}",
        page.text()
    );

    let js = server.get("/assets/app.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.media_type(), "text/javascript");
    assert_eq!(js.text(), APP_JS);
    assert!(js.header("last-modified").is_some(), "revalidation");

    let css = server.get("/assets/app.css").await;
    assert_eq!(css.media_type(), "text/css");
    let icon = server.get("/assets/icon.svg").await;
    assert_eq!(icon.media_type(), "image/svg+xml");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_sent_precompressed_when_the_client_accepts_it() {
    let (server, _web) = server_with_build();
    let br = server
        .get_with("/assets/app.js", &[("accept-encoding", "gzip, br")])
        .await;
    assert_eq!(br.status, StatusCode::OK);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.text(), "BROTLI-BYTES");
    assert_eq!(
        br.media_type(),
        "text/javascript",
        "the type of the original"
    );
    // No .gz in this build: a gzip-only client gets the plain file.
    let plain = server
        .get_with("/assets/app.js", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.text(), APP_JS);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_web_response_carries_the_content_security_policy() {
    let (server, _web) = server_with_build();
    for path in std::iter::once("/".to_owned()).chain(ASSETS.iter().map(|a| format!("/assets/{a}")))
    {
        let reply = server.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let policy = reply.header("content-security-policy").unwrap_or_default();
        assert!(
            policy.starts_with(CONTENT_SECURITY_POLICY),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert!(
            CONTENT_SECURITY_POLICY.starts_with("default-src 'self';"),
            "nothing outside the origin"
        );
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    server.close().await;
}

/// The nonce in the page's meta tag, the one its policy admits for `<style>`.
fn nonce_of(page: &common::http::Reply) -> String {
    let text = page.text();
    let start = text.find("content=\"").expect("meta tag") + "content=\"".len();
    let nonce = text[start..].split('"').next().expect("nonce").to_owned();
    let policy = page.header("content-security-policy").expect("policy");
    assert_eq!(
        policy,
        format!("{CONTENT_SECURITY_POLICY}; style-src 'self' 'nonce-{nonce}'")
    );
    nonce
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_admits_styles_by_a_fresh_nonce_and_scripts_only_from_self() {
    let (server, _web) = server_with_build();
    let first = nonce_of(&server.get("/").await);
    let second = nonce_of(&server.get("/").await);
    assert_ne!(first, second, "a nonce per response");
    assert!(first.len() >= 22, "at least 128 bits: {first}");
    assert!(!first.contains("{{"), "the placeholder was replaced");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_build_the_page_says_how_to_make_one() {
    let empty = tempfile::tempdir().expect("empty dir");
    let dir = empty.path().join("dist");
    let expected_dir = dir.display().to_string();
    let server = TestServer::start_with(|c| c.web_dir = dir);
    let page = server.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.media_type(), "text/html");
    let text = page.text();
    assert!(text.contains("npm ci"), "{text}");
    assert!(text.contains("npm run build"), "{text}");
    assert!(
        text.contains(&expected_dir),
        "names where it looked: {text}"
    );
    assert!(page.header("content-security-policy").is_some());
    let js = server.get("/assets/app.js").await;
    let error = js.assert_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|m| m.contains("npm run build")),
        "{error}"
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_path_reaches_files_outside_the_fixed_assets() {
    let (server, _web) = server_with_build();
    for path in [
        "/secret.txt",
        "/index.html",
        "/assets/../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/..%2fsecret.txt",
        "/assets/app.js/../../secret.txt",
        "/assets/app.js.br",
        "/assets/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/assets/",
        "/assets",
    ] {
        let reply = server.get(path).await;
        assert!(
            reply.status == StatusCode::NOT_FOUND || reply.status == StatusCode::BAD_REQUEST,
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
        assert!(!reply.text().contains("not for the web"), "{path}");
    }
    server.close().await;
}

/// `ledgraph serve` on a free port with `args`/`env`; returns the page `/` and what the server
/// wrote to stderr, then stops it.
fn serve_page(args: &[&str], env: &[(&str, &Path)]) -> (String, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let data = tempfile::tempdir().expect("data dir");
    let stderr_path = data.path().join("stderr");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ledgraph"));
    for (name, _) in std::env::vars() {
        if name.starts_with("LEDGRAPH_") {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .arg("--data")
        .arg(data.path().join("data"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-demo", "--no-shapes"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("spawn ledgraph serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("web UI:") {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(30));
    let page = url.map(|url| {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .build(),
        );
        agent
            .get(&url)
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
    });
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    match page {
        Ok(Ok(page)) => (page, stderr),
        Ok(Err(e)) => panic!("GET /: {e}\n{stderr}"),
        Err(_) => panic!("ledgraph serve did not start:\n{stderr}"),
    }
}

#[test]
fn serve_takes_the_web_dir_from_the_flag_or_the_environment() {
    let web = tempfile::tempdir().expect("web dir");
    fake_build(web.path());
    let dir = web.path().to_str().expect("utf-8 path");

    let (page, stderr) = serve_page(&["--web-dir", dir], &[]);
    assert!(page.ends_with("<body>ui</body></html>"), "{page}");
    assert!(!stderr.contains("not built"), "{stderr}");

    let (page, _) = serve_page(&[], &[("LEDGRAPH_WEB_DIR", web.path())]);
    assert!(page.ends_with("<body>ui</body></html>"), "{page}");

    let empty = tempfile::tempdir().expect("empty dir");
    let (page, stderr) = serve_page(&[], &[("LEDGRAPH_WEB_DIR", empty.path())]);
    assert!(page.contains("npm run build"), "{page}");
    assert!(
        stderr.contains("the web UI is not built"),
        "serve says so when it starts: {stderr}"
    );
}
