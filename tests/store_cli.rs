//! `ledgraph replay`, `ledgraph store hash` and `ledgraph query` from the command line:
//! output formats (snapshots), equal hashes for the live and the replayed store, and one-line
//! errors for bad input.

mod common;

use common::cli::{ledgraph, stderr, stdout};

use std::path::Path;
use std::process::Output;

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    o
}

/// A data directory with two transactions: three adds (one in a named graph), then a remove.
fn data_with_log(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    common::write_keys(&data);
    let first = dir.join("first.nq");
    std::fs::write(
        &first,
        "<https://e.org/a> <https://e.org/name> \"Alice\" .\n\
         <https://e.org/b> <https://e.org/name> \"Bob, \\\"the\\\" builder\"@en .\n\
         <https://e.org/c> <https://e.org/age> \"42\"^^<http://www.w3.org/2001/XMLSchema#integer> <https://e.org/g> .\n",
    )
    .unwrap();
    ok(ledgraph(&data, &["log", "append", first.to_str().unwrap()]));
    let second = dir.join("second.json");
    std::fs::write(
        &second,
        r#"[{"op":"remove","s":"<https://e.org/a>","p":"<https://e.org/name>","o":"\"Alice\""},
            {"op":"add","s":"<https://e.org/d>","p":"<https://e.org/name>","o":"\"Dana\""}]"#,
    )
    .unwrap();
    ok(ledgraph(
        &data,
        &["log", "append", second.to_str().unwrap()],
    ));
    data
}

const NAMES: &str = "SELECT ?s ?name WHERE { ?s <https://e.org/name> ?name } ORDER BY ?s";

#[test]
fn query_prints_table_json_csv_and_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_log(dir.path());
    for format in ["table", "json", "csv", "tsv"] {
        let out = ok(ledgraph(&data, &["query", NAMES, "--format", format]));
        insta::assert_snapshot!(format!("query-{format}"), stdout(&out));
    }
    let ask = ok(ledgraph(
        &data,
        &["query", "ASK { GRAPH <https://e.org/g> { ?s ?p 42 } }"],
    ));
    assert_eq!(stdout(&ask), "true\n");
    let ask = ok(ledgraph(
        &data,
        &[
            "query",
            "--format",
            "json",
            "ASK { <https://e.org/a> ?p ?o }",
        ],
    ));
    assert_eq!(stdout(&ask), "{\"head\":{},\"boolean\":false}\n");
    let construct = ok(ledgraph(
        &data,
        &[
            "query",
            "CONSTRUCT { ?s <https://e.org/n> ?o } WHERE { ?s <https://e.org/name> \"Dana\" BIND(1 AS ?o) }",
        ],
    ));
    assert_eq!(
        stdout(&construct),
        "<https://e.org/d> <https://e.org/n> \"1\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n"
    );
}

#[test]
fn query_sees_the_event_graph() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_log(dir.path());
    let out = ok(ledgraph(
        &data,
        &[
            "query",
            "--format",
            "csv",
            "PREFIX lg: <https://ledgraph.dev/ns#>
             SELECT ?tx ?n WHERE { GRAPH <urn:ledgraph:log> { ?tx lg:eventCount ?n } } ORDER BY ?tx",
        ],
    ));
    assert_eq!(
        stdout(&out),
        "tx,n\r\nurn:ledgraph:tx:0,3\r\nurn:ledgraph:tx:3,2\r\n"
    );
}

#[test]
fn store_hash_of_the_live_store_equals_the_replayed_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_log(dir.path());
    let live = stdout(&ok(ledgraph(&data, &["store", "hash"])));
    assert_eq!(live.trim().len(), 64, "{live}");
    assert!(live.trim().chars().all(|c| c.is_ascii_hexdigit()));
    let hashed = dir.path().join("hashed");
    let out = ok(ledgraph(
        &data,
        &["replay", "--hash", "--into", hashed.to_str().unwrap()],
    ));
    assert!(
        stdout(&out).contains(&format!("dataset hash {}", live.trim())),
        "{}",
        stdout(&out)
    );
    // A plain replay writes the state; `store hash --store` projects the event graph first.
    let into = dir.path().join("replayed");
    let out = ok(ledgraph(
        &data,
        &["replay", "--into", into.to_str().unwrap()],
    ));
    assert!(stdout(&out).contains("(state;"), "{}", stdout(&out));
    let replayed = stdout(&ok(ledgraph(
        &data,
        &["store", "hash", "--store", into.to_str().unwrap()],
    )));
    assert_eq!(replayed, live);
    // Replaying the first transaction gives another hash.
    let prefix = dir.path().join("prefix");
    ok(ledgraph(
        &data,
        &["replay", "--to", "3", "--into", prefix.to_str().unwrap()],
    ));
    let prefix_hash = stdout(&ok(ledgraph(
        &data,
        &["store", "hash", "--store", prefix.to_str().unwrap()],
    )));
    assert_ne!(prefix_hash, live);
}

#[test]
fn bad_input_gives_a_one_line_error_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_log(dir.path());
    let full = dir.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("x"), "x").unwrap();
    let cases: [(&str, Vec<&str>); 5] = [
        ("query-syntax", vec!["query", "SELECT ?s WHERE { ?s ?p }"]),
        (
            "replay-split",
            vec!["replay", "--to", "2", "--into", "unused"],
        ),
        (
            "replay-beyond",
            vec!["replay", "--to", "99", "--into", "unused"],
        ),
        (
            "replay-not-empty",
            vec!["replay", "--into", full.to_str().unwrap()],
        ),
        (
            "hash-missing-store",
            vec!["store", "hash", "--store", "/nonexistent/store"],
        ),
    ];
    for (name, args) in cases {
        let out = ledgraph(&data, &args);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = stderr(&out, dir.path());
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        insta::assert_snapshot!(name, err);
    }
    let out = ledgraph(&data, &["query", "SELECT * {}", "--format", "xml"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown format is a usage error"
    );
    let no_log = dir.path().join("nolog");
    let out = ledgraph(&no_log, &["query", "ASK {}"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_damaged_cursor_exits_with_the_verification_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_log(dir.path());
    ok(ledgraph(&data, &["store", "hash"]));
    {
        let store = ledgraph::store::GraphStore::open(&ledgraph::store::store_dir(&data)).unwrap();
        store
            .oxigraph()
            .insert(&oxrdf::Quad::new(
                oxrdf::NamedNode::new_unchecked("urn:ledgraph:projection:state"),
                oxrdf::NamedNode::new_unchecked("https://ledgraph.dev/ns#appliedSize"),
                oxrdf::Literal::new_simple_literal("garbage"),
                oxrdf::NamedNode::new_unchecked("urn:ledgraph:meta"),
            ))
            .unwrap();
    }
    let out = ledgraph(&data, &["query", "ASK {}"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out, dir.path()));
    assert!(stderr(&out, dir.path()).contains("corruption"));
}

#[test]
fn query_as_of_prints_the_state_at_that_log_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_log(dir.path());
    let names_at = |as_of: &str| {
        let out = ok(ledgraph(
            &data,
            &["query", "--as-of", as_of, "--format", "csv", NAMES],
        ));
        assert!(
            stderr(&out, dir.path()).contains("as of log size"),
            "{}",
            stderr(&out, dir.path())
        );
        stdout(&out)
    };
    assert_eq!(names_at("0"), "s,name\r\n");
    assert_eq!(
        names_at("3"),
        "s,name\r\nhttps://e.org/a,Alice\r\nhttps://e.org/b,\"Bob, \"\"the\"\" builder\"\r\n"
    );
    assert_eq!(names_at("5"), ok_now(&data));
    assert_eq!(names_at("2999-01-01T00:00:00Z"), ok_now(&data));
    assert_eq!(names_at("1970-01-01T00:00:00Z"), "s,name\r\n");
}

fn ok_now(data: &Path) -> String {
    stdout(&ok(ledgraph(data, &["query", "--format", "csv", NAMES])))
}

#[test]
fn query_as_of_refuses_a_malformed_or_impossible_value_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_log(dir.path());
    for (as_of, message) in [
        ("abc", "neither a log size"),
        ("-1", "neither a log size"),
        ("9", "beyond the log"),
        ("1", "split the transaction"),
        ("2026-02-30T00:00:00Z", "not a calendar date"),
    ] {
        let flag = format!("--as-of={as_of}");
        let out = ledgraph(&data, &["query", &flag, "ASK {}"]);
        assert_eq!(out.status.code(), Some(1), "{as_of}");
        let err = stderr(&out, dir.path());
        assert_eq!(err.lines().count(), 1, "{as_of}: {err}");
        assert!(
            err.starts_with("error:") && err.contains(message),
            "{as_of}: {err}"
        );
    }
}
