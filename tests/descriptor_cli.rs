//! `ledgraph compile` and `ledgraph descriptor inspect|verify|diff` as a user runs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn ledgraph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("LEDGRAPH_DATA")
        .output()
        .expect("run ledgraph")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn compile_prints_the_report_and_writes_the_checked_in_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("demo.lgd");
    let out_str = out.to_str().expect("utf-8 path");
    let stdout = ok(&ledgraph(&[
        "compile",
        "ontology/",
        "--shapes",
        "shapes/",
        "-o",
        out_str,
        "--key",
        "descriptors/demo.key",
    ]));
    assert!(
        stdout.contains("hot rules")
            && stdout.contains("warm rules")
            && stdout.contains("warnings"),
        "{stdout}"
    );
    let written = std::fs::read(&out).expect("written");
    assert!(
        written == std::fs::read(repo("descriptors/demo.lgd")).expect("checked in"),
        "descriptors/demo.lgd is stale: run `ledgraph compile ontology/ --shapes shapes/ -o descriptors/demo.lgd --key descriptors/demo.key`"
    );
}

#[test]
fn inspect_dumps_the_demo_descriptor() {
    let stdout = ok(&ledgraph(&[
        "descriptor",
        "inspect",
        "descriptors/demo.lgd",
    ]));
    insta::assert_snapshot!("demo-inspect", stdout);
}

#[test]
fn verify_checks_the_pinned_key() {
    let stdout = ok(&ledgraph(&[
        "descriptor",
        "verify",
        "descriptors/demo.lgd",
        "--vkey",
        "descriptors/demo.vkey",
    ]));
    assert!(
        stdout.starts_with("ok sha256:") && stdout.contains("the trusted key"),
        "{stdout}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other.vkey");
    std::fs::write(&other, common::node_key().verifier().to_vkey()).expect("write vkey");
    let o = ledgraph(&[
        "descriptor",
        "verify",
        "descriptors/demo.lgd",
        "--vkey",
        other.to_str().expect("utf-8"),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("signed by key"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn verify_refuses_a_damaged_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = std::fs::read(repo("descriptors/demo.lgd")).expect("demo");
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    let bad = dir.path().join("bad.lgd");
    std::fs::write(&bad, bytes).expect("write");
    let o = ledgraph(&["descriptor", "verify", bad.to_str().expect("utf-8")]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad signature"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn diff_shows_an_added_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let onto = dir.path().join("ontology");
    common::copy_dir(&repo("ontology"), &onto);
    std::fs::write(
        onto.join("extra-rule.ttl"),
        "@prefix lg: <https://ledgraph.dev/ns#> .\n@prefix ex: <https://example.org/plant#> .\n\
         <https://example.org/plant/rules#TankOverflow> a lg:Rule ;\n  lg:trigger [ lg:onPredicate ex:levelPct ; lg:objectGuard [ lg:minInclusive 95 ] ] ;\n  lg:alert [ lg:topic \"plant/alarms\" ; lg:message \"tank about to overflow\" ] .\n",
    )
    .expect("write rule");
    let out = dir.path().join("new.lgd");
    ok(&ledgraph(&[
        "compile",
        onto.to_str().expect("utf-8"),
        "--shapes",
        "shapes/",
        "-o",
        out.to_str().expect("utf-8"),
        "--key",
        "descriptors/demo.key",
    ]));
    let stdout = ok(&ledgraph(&[
        "descriptor",
        "diff",
        "descriptors/demo.lgd",
        out.to_str().expect("utf-8"),
    ]));
    assert!(stdout.contains("+ <https://example.org/plant#levelPct>: rule <https://example.org/plant/rules#TankOverflow>"), "{stdout}");
    assert!(stdout.contains("input digest:"), "{stdout}");
    let same = ok(&ledgraph(&[
        "descriptor",
        "diff",
        "descriptors/demo.lgd",
        "descriptors/demo.lgd",
    ]));
    assert!(same.starts_with("identical"), "{same}");
}
