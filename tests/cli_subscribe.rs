//! `ledgraph subscribe` against a real server on a local port: it prints one line per matching
//! event, in log order, one line per alert of a topic, and shows the server's 400 reason for a
//! bad pattern.

mod common;

use std::process::{Command, Output};

use ledgraph::event::{Batch, Op};
use ledgraph::http::server::{self, ServerConfig};
use ledgraph::kernel::alerts;
use oxrdf::{GraphName, Literal, NamedNode, Quad};

fn ledgraph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .args(args)
        .env_remove("LEDGRAPH_TOKEN")
        .env_remove("LEDGRAPH_SERVER")
        .output()
        .expect("run ledgraph")
}

#[test]
fn subscribe_prints_the_matching_events_and_the_servers_reason_for_a_bad_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path().join("data"));
    config.demo_data = false;
    let opened = server::open(&config).unwrap();
    let log = opened.state.log.clone();
    let actor = opened.state.actor;
    let changes = (0..6)
        .map(|i| {
            let p = if i % 2 == 0 { "p" } else { "q" };
            (
                if i == 4 { Op::Remove } else { Op::Add },
                Quad::new(
                    NamedNode::new_unchecked(format!("https://example.org/s{i}")),
                    NamedNode::new_unchecked(format!("https://example.org/{p}")),
                    Literal::new_simple_literal(format!("v{i}")),
                    GraphName::DefaultGraph,
                ),
            )
        })
        .collect();
    log.append(Batch::unsigned(actor, changes)).unwrap();
    // Two alert records as the kernel writes them (6 triples each: positions 6..12, 12..18).
    let (s, o) = (
        NamedNode::new_unchecked("https://example.org/pump").into(),
        Literal::new_simple_literal("hot").into(),
    );
    let alerts = ["plant/other", "plant/alarms"]
        .iter()
        .enumerate()
        .flat_map(|(k, topic)| alerts::quads(0, k as u64, topic, Some("too hot"), &s, &o, None))
        .map(|q| (Op::Add, q))
        .collect();
    log.append(Batch::unsigned(actor, alerts)).unwrap();

    let served = common::served::Served::start(config, opened);
    let url = served.url.clone();

    let out = ledgraph(&[
        "subscribe",
        "--server",
        &url,
        "-p",
        "https://example.org/p",
        "--from",
        "0",
        "--limit",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = lines.iter().map(|j| j["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [0, 2, 4]);
    assert_eq!(lines[2]["op"], "remove");

    let out = ledgraph(&[
        "subscribe",
        "--server",
        &url,
        "--rdf-patch",
        "--from",
        "1",
        "--limit",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "A <https://example.org/s1> <https://example.org/q> \"v1\" .\n"
    );

    let out = ledgraph(&[
        "subscribe",
        "--server",
        &url,
        "--topic",
        "plant/alarms",
        "--from",
        "0",
        "--limit",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alert: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(alert["topic"], "plant/alarms");
    assert_eq!(alert["message"], "too hot");
    assert_eq!(alert["subject"], "<https://example.org/pump>");
    assert_eq!(alert["seq"], 17);

    let out = ledgraph(&["subscribe", "--server", &url, "--op", "upsert"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown op") && stderr.contains("400"),
        "{stderr}"
    );

    drop(log);
    served.stop();
}
