//! `ledgraph descriptor activate FILE --server URL` against a real server on a local port,
//! then `ledgraph receipts verify` on its data directory: the activation is recorded, the
//! kernel derives and receipts what is published after it, and re-execution reproduces every
//! receipt.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ledgraph::event::{Batch, Op};
use ledgraph::http::server::{self, ServerConfig};
use oxrdf::{GraphName, Literal, NamedNode, Quad};

const EX: &str = "https://example.org/plant#";

fn ledgraph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .args(args)
        .env_remove("LEDGRAPH_TOKEN")
        .env_remove("LEDGRAPH_SERVER")
        .output()
        .expect("run ledgraph")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn activate_over_http_then_receipts_verify_locally() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (ontology, shapes) = (root.join("ontology"), root.join("shapes"));
    let compiled = ledgraph::descriptor::compile_paths(&[&ontology, &shapes], &common::node_key())
        .expect("the demo compiles");
    let file = dir.path().join("demo.lgd");
    std::fs::write(&file, &compiled.bytes).unwrap();

    let mut config = ServerConfig::new(data.clone());
    config.demo_data = false;
    let opened = server::open(&config).unwrap();
    let state = opened.state.clone();
    let served = common::served::Served::start(config, opened);
    let url = served.url.clone();

    let out = ledgraph(&[
        "descriptor",
        "activate",
        file.to_str().unwrap(),
        "--name",
        "demo",
        "--server",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("activated "), "{}", text(&out));
    let again = ledgraph(&[
        "descriptor",
        "activate",
        file.to_str().unwrap(),
        "--server",
        &url,
    ]);
    assert!(
        text(&again).contains("was already active"),
        "{}",
        text(&again)
    );

    // A hot reading, appended like a publisher would.
    let quad = |s: &str, p: &str, o: Literal| {
        Quad::new(
            NamedNode::new_unchecked(s),
            NamedNode::new_unchecked(p),
            o,
            GraphName::DefaultGraph,
        )
    };
    let reading = quad(
        "urn:test:t1",
        &format!("{EX}temperatureC"),
        Literal::new_typed_literal("95.0", oxrdf::vocab::xsd::DECIMAL),
    );
    let typed = Quad::new(
        NamedNode::new_unchecked("urn:test:t1"),
        oxrdf::vocab::rdf::TYPE,
        NamedNode::new_unchecked(format!("{EX}TemperatureSensor")),
        GraphName::DefaultGraph,
    );
    state
        .log
        .append(Batch::unsigned(
            state.actor,
            vec![(Op::Add, typed), (Op::Add, reading)],
        ))
        .unwrap();
    let started = Instant::now();
    while state
        .kernel
        .applied
        .load(std::sync::atomic::Ordering::Acquire)
        < state.log.size()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the kernel did not catch up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The server still running: the read-only view reaches the last commits once the idle
    // server has stored its checkpoint (about one second).
    let data_arg = data.to_str().unwrap();
    let started = Instant::now();
    loop {
        let out = ledgraph(&["--data", data_arg, "receipts", "verify"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("a server holds"), "{}", text(&out));
        if text(&out).contains("1 receipts reproduced") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the running server's log stays stale: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    served.stop();
    drop(state);

    // The server stopped: the log is read as it was left.
    let out = ledgraph(&["--data", data_arg, "receipts", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 receipts reproduced"),
        "{}",
        text(&out)
    );
    // The derived transaction is signed by the node: `log verify` checks that signature.
    let out = ledgraph(&["--data", data_arg, "log", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
}
