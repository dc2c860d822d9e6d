//! The `ledgraph` command line: clear one-line errors with positions, non-zero exit codes,
//! the log unchanged after bad input, and machine-readable proofs.

mod common;

use common::cli::{ledgraph, stderr, stdout};

use std::path::Path;

use base64::Engine;
use ledgraph::log::merkle::{Hash, verify_consistency, verify_inclusion};

fn log_state(data: &Path) -> (Vec<u8>, String) {
    let segment =
        std::fs::read(data.join("log/segments/00000000000000000000.seg")).unwrap_or_default();
    let checkpoint = stdout(&ledgraph(data, &["log", "checkpoint"]));
    (segment, checkpoint)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn hash(b64: &serde_json::Value) -> Hash {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_str().unwrap())
        .unwrap();
    bytes.try_into().unwrap()
}

#[test]
fn malformed_input_gives_a_one_line_error_with_its_position_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = write(
        dir.path(),
        "good.nt",
        "<https://e.org/s> <https://e.org/p> \"v\" .\n",
    );
    assert!(ledgraph(&data, &["log", "append", &good]).status.success());
    let before = log_state(&data);

    let cases = [
        (
            "bad.nt",
            "<https://e.org/s> <https://e.org/p> \"v\" .\n<https://e.org/s> <not an iri> \"w\" .\n",
        ),
        (
            "bad-syntax.json",
            "[{\"op\": \"add\", \"s\": \"<https://e.org/s>\",\n  \"p\": }]",
        ),
        (
            "unknown-op.json",
            r#"[{"op":"upsert","s":"<https://e.org/s>","p":"<https://e.org/p>","o":"\"v\""}]"#,
        ),
        (
            "bad-term.json",
            r#"[{"op":"add","s":"<https://e.org/s>","p":"\"literal\"","o":"\"v\""}]"#,
        ),
        ("empty.nt", ""),
    ];
    for (name, text) in cases {
        let file = write(dir.path(), name, text);
        let out = ledgraph(&data, &["log", "append", &file]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = stderr(&out, dir.path());
        assert_eq!(err.lines().count(), 1, "{name}: one line, got {err:?}");
        insta::assert_snapshot!(name, err);
        assert_eq!(
            log_state(&data),
            before,
            "{name} must leave the log unchanged"
        );
    }
}

#[test]
fn missing_key_file_and_unknown_format_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = ledgraph(&dir.path().join("nowhere"), &["log", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("missing-vkey", stderr(&out, dir.path()));
    let file = write(dir.path(), "events.txt", "x");
    let out = ledgraph(&dir.path().join("data"), &["log", "append", &file]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("unknown-extension", stderr(&out, dir.path()));
}

#[test]
fn append_show_prove_and_verify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_keys(&data);
    let events = write(
        dir.path(),
        "events.json",
        r#"[{"op":"add","s":"_:a","p":"<https://e.org/p>","o":"\"1\"^^<http://www.w3.org/2001/XMLSchema#integer>"},
            {"op":"add","s":"<https://e.org/s>","p":"<https://e.org/p>","o":"\"x\"@en","g":"<https://e.org/g>"},
            {"op":"remove","s":"<https://e.org/s>","p":"<https://e.org/p>","o":"<https://e.org/o>"}]"#,
    );
    let out = ledgraph(&data, &["log", "append", &events]);
    assert!(out.status.success(), "{}", stderr(&out, dir.path()));
    assert_eq!(
        stdout(&out).trim(),
        "appended 3 events (seq 0..2); checkpoint size 3"
    );

    let shown = stdout(&ledgraph(&data, &["log", "show", "--format", "json"]));
    let rows: Vec<serde_json::Value> = shown
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0]["s"]
            .as_str()
            .unwrap()
            .starts_with("<https://ledgraph.local/.well-known/genid/")
    );
    assert_eq!(rows[1]["g"], "<https://e.org/g>");
    assert_eq!(rows[2]["op"], "remove");

    let proof: serde_json::Value = serde_json::from_str(&stdout(&ledgraph(
        &data,
        &["log", "proof", "inclusion", "--seq", "1"],
    )))
    .unwrap();
    let leaf = ledgraph::log::merkle::leaf_hash(
        &hex::decode(rows[1]["canonical"].as_str().unwrap()).unwrap(),
    );
    assert_eq!(hex::encode(leaf), rows[1]["leaf_hash"]);
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    verify_inclusion(&leaf, 1, 3, &hashes, &hash(&proof["root"])).unwrap();

    let note = stdout(&ledgraph(&data, &["log", "checkpoint"]));
    let checkpoint_file = write(dir.path(), "seen.note", &note);
    let more = write(
        dir.path(),
        "more.nt",
        "<https://e.org/s> <https://e.org/p> \"later\" .\n",
    );
    assert!(ledgraph(&data, &["log", "append", &more]).status.success());
    let c: serde_json::Value = serde_json::from_str(&stdout(&ledgraph(
        &data,
        &["log", "proof", "consistency", "--from", "3", "--to", "4"],
    )))
    .unwrap();
    let hashes: Vec<Hash> = c["hashes"].as_array().unwrap().iter().map(hash).collect();
    verify_consistency(3, 4, &hashes, &hash(&c["from_root"]), &hash(&c["to_root"])).unwrap();

    let out = ledgraph(
        &data,
        &["log", "verify", "--trusted-checkpoint", &checkpoint_file],
    );
    assert!(out.status.success(), "{}", stderr(&out, dir.path()));
    assert!(stdout(&out).contains("extends the trusted checkpoint of size 3"));

    let patch = stdout(&ledgraph(
        &data,
        &["log", "export", "--format", "rdf-patch"],
    ));
    assert!(
        patch.contains("D <https://e.org/s> <https://e.org/p> <https://e.org/o> ."),
        "{patch}"
    );
    let rows: Vec<&str> = patch
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        rows,
        ["TX", "A", "A", "D", "TC", "TX", "A", "TC"],
        "one TX/TC per logged transaction:\n{patch}"
    );
    let state = stdout(&ledgraph(&data, &["log", "export", "--format", "nquads"]));
    assert!(state.contains("\"x\"@en <https://e.org/g> ."), "{state}");
}

#[test]
fn verify_of_a_tampered_log_exits_with_the_verification_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = write(
        dir.path(),
        "good.nt",
        "<https://e.org/s> <https://e.org/p> \"v\" .\n<https://e.org/s> <https://e.org/p> \"w\" .\n",
    );
    assert!(ledgraph(&data, &["log", "append", &good]).status.success());
    let segment = data.join("log/segments/00000000000000000000.seg");
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    std::fs::write(&segment, bytes).unwrap();
    let out = ledgraph(&data, &["log", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out, dir.path()));
    let err = stderr(&out, dir.path());
    assert!(
        err.starts_with(
            "error: corruption in [DIR]/data/log/segments/00000000000000000000.seg at byte "
        ),
        "{err}"
    );
}

#[test]
fn log_append_reads_rdf_patch_and_cloudevents_by_extension_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_keys(&data);
    let patch = "TX .\nPA e <https://e.org/> .\nA e:s e:p \"1\" .\nD e:s e:p \"0\" e:g .\nTC .\n";
    let event = r#"{"specversion":"1.0","id":"1","source":"/t","type":"t",
        "datacontenttype":"application/n-triples","data":"<https://e.org/s> <https://e.org/p> \"2\" ."}"#;
    let cases = [
        ("a.rdfp", patch.to_owned(), &[][..], 2),
        ("b.patch", patch.to_owned(), &[][..], 2),
        ("c.ce.json", event.to_owned(), &[][..], 1),
        ("d.ce.json", format!("[{event}, {event}]"), &[][..], 2),
        ("e.txt", patch.to_owned(), &["--format", "patch"][..], 2),
        (
            "f.json",
            event.to_owned(),
            &["--format", "cloudevents"][..],
            1,
        ),
    ];
    let mut seq = 0;
    for (name, text, flags, count) in cases {
        let file = write(dir.path(), name, &text);
        let mut args = vec!["log", "append", &file];
        args.extend_from_slice(flags);
        let out = ledgraph(&data, &args);
        assert!(out.status.success(), "{name}: {}", stderr(&out, dir.path()));
        assert!(
            stdout(&out).starts_with(&format!(
                "appended {count} events (seq {seq}..{})",
                seq + count - 1
            )),
            "{name}: {}",
            stdout(&out)
        );
        seq += count;
    }
    let before = log_state(&data);
    let errors = [
        (
            "open.rdfp",
            "TX .\nA <https://e.org/s> <https://e.org/p> 1 .\n",
            "open.rdfp:1:1: TX is not committed",
        ),
        (
            "bad.ce.json",
            r#"{"specversion":"0.3","id":"1","source":"/t","type":"t","data":[]}"#,
            "bad.ce.json:event 0, field \"specversion\": unsupported specversion",
        ),
    ];
    for (name, text, expected) in errors {
        let file = write(dir.path(), name, text);
        let out = ledgraph(&data, &["log", "append", &file]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = stderr(&out, dir.path());
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert_eq!(
            log_state(&data),
            before,
            "{name} must leave the log unchanged"
        );
    }
}
