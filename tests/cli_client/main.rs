//! The HTTP clients (`publish`, `query --server`, `verify-remote`) against a small axum mock
//! of the server API, backed by a real signed log: media types and tokens sent, output
//! printed, server errors shown with their position, and every verification failure (bad
//! entry, wrong key, fork, rollback) exiting with code 3.

#[path = "../common/mod.rs"]
mod common;
mod mock;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;

use ledgraph::log::Log;
use mock::{SELECT_JSON, serve};

fn ledgraph(args: &[&str]) -> Output {
    ledgraph_with_stdin(args, "")
}

fn ledgraph_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .args(args)
        .env_remove("LEDGRAPH_TOKEN")
        .env_remove("LEDGRAPH_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ledgraph");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn append_batches(log: &Log, batches: u64, per_batch: u64) {
    for b in 0..batches {
        log.append(common::batch(b * per_batch, per_batch)).unwrap();
    }
}

#[test]
fn publish_sends_the_media_type_of_each_format_with_the_token_and_prints_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mock, _rt) = serve(&dir.path().join("server"));
    let nt = "<https://e.org/s> <https://e.org/p> \"1\" .\n<https://e.org/s> <https://e.org/p> \"2\" .\n";
    let event = r#"{"specversion":"1.0","id":"1","source":"/t","type":"t",
        "data":[{"op":"add","s":"<https://e.org/s>","p":"<https://e.org/p>","o":"\"3\""}]}"#;
    let cases = [
        ("a.nt", nt.to_owned(), "application/n-triples", 2),
        (
            "b.ttl",
            "@prefix e: <https://e.org/> . e:s e:p 4 .".to_owned(),
            "text/turtle",
            1,
        ),
        (
            "c.json",
            r#"[{"op":"remove","s":"<https://e.org/s>","p":"<https://e.org/p>","o":"\"1\""}]"#
                .to_owned(),
            "application/json",
            1,
        ),
        (
            "d.rdfp",
            "TX .\nD <https://e.org/s> <https://e.org/p> \"2\" .\nTC .\n".to_owned(),
            "application/rdf-patch",
            1,
        ),
        (
            "e.patch",
            "A <https://e.org/s> <https://e.org/p> 5 .\n".to_owned(),
            "application/rdf-patch",
            1,
        ),
        (
            "f.ce.json",
            event.to_owned(),
            "application/cloudevents+json",
            1,
        ),
        (
            "g.ce.json",
            format!("[{event},{event}]"),
            "application/cloudevents-batch+json",
            2,
        ),
    ];
    let mut seq = 0;
    for (name, text, media_type, count) in cases {
        let file = write(dir.path(), name, &text);
        let out = ledgraph(&["publish", &file, "--server", &url, "--token", "s3cret"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let printed = stdout(&out);
        let mut lines = printed.lines();
        assert_eq!(
            lines.next(),
            Some(format!("appended {count} events: seq {seq}..{}", seq + count - 1).as_str()),
            "{name}"
        );
        seq += count;
        assert_eq!(
            lines.next(),
            Some(format!("checkpoint (tree size {seq}):").as_str())
        );
        assert_eq!(lines.next(), Some(common::KEY_NAME), "the note follows");
        let last = mock.seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            (last.method.as_str(), last.path.as_str()),
            ("POST", "/v1/events")
        );
        assert_eq!(last.content_type, media_type, "{name}");
        assert_eq!(last.auth, "Bearer s3cret");
        assert_eq!(last.body, text.as_bytes());
    }
    assert_eq!(mock.log.size(), seq);

    // --format overrides the extension; the token can come from the environment.
    let file = write(dir.path(), "h.txt", nt);
    let out = Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .args(["publish", &file, "--server", &url, "--format", "nt"])
        .env("LEDGRAPH_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let last = mock.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.content_type, "application/n-triples");
}

#[test]
fn publish_prints_the_servers_error_with_its_position_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mock, _rt) = serve(&dir.path().join("server"));
    let file = write(
        dir.path(),
        "bad.nt",
        "<https://e.org/s> <https://e.org/p> \"1\" .\n<https://e.org/s> <bad iri> \"2\" .\n",
    );
    let out = ledgraph(&["publish", &file, "--server", &url, "--token", "s3cret"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("error: {file}:2:")), "{err}");
    assert!(err.trim_end().ends_with("(HTTP 400)"), "{err}");

    let good = write(
        dir.path(),
        "good.nt",
        "<https://e.org/s> <https://e.org/p> \"1\" .\n",
    );
    let out = ledgraph(&["publish", &good, "--server", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("needs a bearer token with the \"publish\" scope (HTTP 401)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mock.log.size(), 0, "nothing was appended");
}

#[test]
fn client_errors_before_any_request_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "a.nt",
        "<https://e.org/s> <https://e.org/p> \"1\" .\n",
    );
    let cases: [(&[&str], &str); 5] = [
        (
            &["publish", &file, "--server", "https://example.org"],
            "https is not supported",
        ),
        (
            &["publish", &file, "--server", "example.org"],
            "expected a server URL",
        ),
        (
            &["publish", "missing.nt", "--server", "http://127.0.0.1:9"],
            "reading missing.nt",
        ),
        (
            &["publish", &file, "--server", "http://127.0.0.1:9"],
            "POST http://127.0.0.1:9/v1/events",
        ),
        (
            &["verify-remote", "http://127.0.0.1:9", "--samples", "10001"],
            "exceeds 10000",
        ),
    ];
    for (args, needle) in cases {
        let out = ledgraph(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn query_asks_for_the_format_and_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mock, _rt) = serve(&dir.path().join("server"));
    let select = "SELECT ?s ?label WHERE { ?s ?p ?label }";

    let out = ledgraph(&["query", "--server", &url, select]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "?s                | ?label\n\
         ------------------+------------------\n\
         <https://e.org/a> | \"A \\\"quoted\\\"\"@en\n\
         _:b0              |\n\
         (2 rows)\n"
    );
    let last = mock.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("GET", "/sparql")
    );
    assert_eq!(last.query.get("query").map(String::as_str), Some(select));
    assert!(
        last.accept.starts_with("application/sparql-results+json"),
        "{}",
        last.accept
    );

    let formats = [
        ("json", "application/sparql-results+json", SELECT_JSON),
        ("csv", "text/csv", "s,label\r\nhttps://e.org/a,A\r\n"),
        (
            "tsv",
            "text/tab-separated-values",
            "?s\t?label\n<https://e.org/a>\t\"A\"\n",
        ),
    ];
    for (format, accept, body) in formats {
        let out = ledgraph(&[
            "query", "--server", &url, "--format", format, "--token", "t", select,
        ]);
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        assert_eq!(stdout(&out), body, "{format} is passed through unchanged");
        let last = mock.seen.lock().unwrap().last().cloned().unwrap();
        assert!(last.accept.starts_with(accept), "{format}: {}", last.accept);
        assert_eq!(last.auth, "Bearer t");
    }

    let out = ledgraph_with_stdin(&["query", "--server", &url, "-"], "ASK { ?s ?p ?o }");
    assert_eq!(stdout(&out), "true\n", "{}", stderr(&out));
}

#[test]
fn long_queries_are_posted_and_errors_show_the_servers_position() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mock, _rt) = serve(&dir.path().join("server"));
    let long = format!("SELECT * WHERE {{ ?s ?p ?o }} # {}", "x".repeat(3_000));
    let out = ledgraph(&["query", "--server", &url, "--format", "json", &long]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = mock.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.content_type, "application/sparql-query");
    assert_eq!(last.body, long.as_bytes());

    let out = ledgraph(&["query", "--server", &url, "SELECT BROKEN"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end(),
        "error: 1:8: unexpected token (HTTP 400)"
    );
}

#[test]
fn query_as_of_sends_the_as_of_parameter_by_get_and_post() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mock, _rt) = serve(&dir.path().join("server"));
    let time = "2026-11-23T20:00:00+01:00";
    let out = ledgraph(&[
        "query",
        "--server",
        &url,
        "--as-of",
        time,
        "ASK { ?s ?p ?o }",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = mock.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.method, "GET");
    assert_eq!(
        last.query.get("asOf").map(String::as_str),
        Some(time),
        "the '+' survives the URL"
    );
    let long = format!("SELECT * WHERE {{ ?s ?p ?o }} # {}", "x".repeat(3_000));
    let out = ledgraph(&["query", "--server", &url, "--as-of", time, &long]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = mock.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.query.get("asOf").map(String::as_str), Some(time));
    assert_eq!(last.body, long.as_bytes());
}

fn vkey_file(dir: &Path) -> String {
    write(
        dir,
        "log.vkey",
        &format!("{}\n", common::node_key().verifier().to_vkey()),
    )
}

#[test]
fn verify_remote_checks_signature_samples_and_extension_of_a_saved_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mock, _rt) = serve(&dir.path().join("server"));
    append_batches(&mock.log, 3, 10);
    let vkey = vkey_file(dir.path());
    let saved = dir.path().join("seen.note").display().to_string();

    let out = ledgraph(&[
        "verify-remote",
        &url,
        "--vkey",
        &vkey,
        "--samples",
        "5",
        "--save",
        &saved,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("ok: checkpoint of test.local/log signed by its key: size 30"),
        "{printed}"
    );
    assert!(
        printed.contains("ok: 5 events proven in the tree of 30"),
        "{printed}"
    );
    let proven: Vec<u64> = mock
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path == "/v1/log/proof/inclusion")
        .filter_map(|s| s.query.get("seq")?.parse().ok())
        .collect();
    assert_eq!(proven.len(), 5);
    assert!(
        proven.contains(&29),
        "the newest event is always sampled: {proven:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        mock.log.checkpoint().note
    );

    append_batches(&mock.log, 2, 7);
    let out = ledgraph(&[
        "verify-remote",
        &url,
        "--trusted-checkpoint",
        &saved,
        "--samples",
        "100",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("pass --vkey FILE to pin it"));
    let printed = stdout(&out);
    assert!(
        printed.contains("ok: 44 events proven"),
        "samples are capped at the size: {printed}"
    );
    assert!(
        printed.contains("extends the trusted checkpoint of size 30"),
        "{printed}"
    );
}

#[test]
fn verify_remote_fails_with_code_3_on_a_tampered_entry_or_a_foreign_key() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mock, _rt) = serve(&dir.path().join("server"));
    append_batches(&mock.log, 2, 5);
    let vkey = vkey_file(dir.path());

    mock.tamper_entries.store(true, Ordering::SeqCst);
    let out = ledgraph(&["verify-remote", &url, "--vkey", &vkey, "--samples", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "verification failed: event 9: SHA-256(0x00 ‖ entry) is not the proven leaf hash"
        ),
        "{}",
        stderr(&out)
    );
    mock.tamper_entries.store(false, Ordering::SeqCst);

    let foreign = write(
        dir.path(),
        "foreign.vkey",
        &common::publisher_key().verifier().to_vkey(),
    );
    let out = ledgraph(&["verify-remote", &url, "--vkey", &foreign]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("verification failed: the server's checkpoint"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verify_remote_detects_forks_and_rollbacks_against_a_trusted_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let vkey = vkey_file(dir.path());
    // The log the client saw: 20 events.
    let (seen_url, seen_mock, _rt1) = serve(&dir.path().join("seen"));
    append_batches(&seen_mock.log, 2, 10);
    let trusted = dir.path().join("trusted.note").display().to_string();
    let out = ledgraph(&[
        "verify-remote",
        &seen_url,
        "--vkey",
        &vkey,
        "--save",
        &trusted,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Another log under the same key, with other events: a fork.
    let (fork_url, fork_mock, _rt2) = serve(&dir.path().join("fork"));
    let cases = [
        (5, "rolled back"),
        (15, "the log forked"),
        (10, "does not extend the trusted one"),
    ];
    for (more, needle) in cases {
        append_batches(&fork_mock.log, 1, more);
        let out = ledgraph(&[
            "verify-remote",
            &fork_url,
            "--vkey",
            &vkey,
            "--trusted-checkpoint",
            &trusted,
        ]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "size {}: {}",
            fork_mock.log.size(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(needle),
            "size {}: {}",
            fork_mock.log.size(),
            stderr(&out)
        );
    }
}
