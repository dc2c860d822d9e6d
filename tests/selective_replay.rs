//! `ledgraph replay --select … --into DIR`: a store built from only the events a selection
//! picks, equal to applying exactly those events in log order; built-in selections work from
//! any directory; custom files on disk work; bad parameters change nothing.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::cli::{ledgraph, stdout};
use common::{Rng, node_key, open, publisher_key};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::log::{Log, LogConfig};
use ledgraph::store::{EVENT_GRAPH, GraphStore, META_GRAPH};
use oxrdf::{GraphName, Literal, NamedNode, Quad};

fn quad(s: u64, o: u64) -> Quad {
    Quad::new(
        NamedNode::new_unchecked(format!("https://example.org/s{s}")),
        NamedNode::new_unchecked(if o % 2 == 0 {
            "https://example.org/even"
        } else {
            "https://example.org/odd"
        }),
        Literal::from(o as i64),
        GraphName::DefaultGraph,
    )
}

/// A random log of two actors' adds and removes; returns (actor of each event, op, quad).
fn random_log(log: &Log, rng: &mut Rng) -> Vec<(ActorKey, Op, Quad)> {
    let actors = [
        ActorKey(node_key().public_key()),
        ActorKey(publisher_key().public_key()),
    ];
    let mut events = Vec::new();
    for _ in 0..40 {
        let actor = actors[rng.range(0, 2) as usize];
        let changes: Vec<(Op, Quad)> = (0..rng.range(1, 5))
            .map(|_| {
                let op = if rng.range(0, 3) == 0 {
                    Op::Remove
                } else {
                    Op::Add
                };
                (op, quad(rng.range(0, 6), rng.range(0, 4)))
            })
            .collect();
        for (op, q) in &changes {
            events.push((actor, *op, q.clone()));
        }
        log.append(Batch::unsigned(actor, changes)).unwrap();
    }
    events
}

/// What applying `events` in order leaves.
fn apply<'a>(events: impl Iterator<Item = &'a (ActorKey, Op, Quad)>) -> BTreeSet<String> {
    let mut state = BTreeSet::new();
    for (_, op, q) in events {
        match op {
            Op::Add => state.insert(q.to_string()),
            Op::Remove => state.remove(&q.to_string()),
        };
    }
    state
}

/// The state quads of a store (reserved graphs left out).
fn state_of(dir: &Path) -> BTreeSet<String> {
    let store = GraphStore::open_read_only(dir).unwrap();
    store
        .oxigraph()
        .iter()
        .map(|q| q.unwrap())
        .filter(|q| {
            !matches!(&q.graph_name, GraphName::NamedNode(g)
                if g.as_str() == EVENT_GRAPH || g.as_str() == META_GRAPH)
        })
        .map(|q| q.to_string())
        .collect()
}

#[test]
fn selected_events_alone_make_the_replayed_state() {
    let mut rng = Rng::from_env("selected_events_alone_make_the_replayed_state");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (log, _) = open(&data, LogConfig::default());
    let events = random_log(&log, &mut rng);
    log.close().unwrap();
    let excluded = ActorKey(publisher_key().public_key());
    let hex_actor = hex::encode(excluded.0);

    // A built-in selection by its repository path (read from disk: the tests run at the root).
    let into = dir.path().join("without");
    let out = ledgraph(
        &data,
        &[
            "replay",
            "--select",
            "queries/replay/except-actor.rq",
            "--param",
            &format!("actor={hex_actor}"),
            "--into",
            &into.display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = apply(events.iter().filter(|(a, _, _)| *a != excluded));
    assert_eq!(state_of(&into), expected);
    let hash = hex::encode(
        GraphStore::open_read_only(&into)
            .unwrap()
            .dataset_hash()
            .unwrap(),
    );
    assert!(stdout(&out).contains(&hash), "{}", stdout(&out));
    // The new store can be queried where it is.
    let out = ledgraph(
        &data,
        &[
            "query",
            "--store",
            &into.display().to_string(),
            "--format",
            "csv",
            "SELECT ?n WHERE { GRAPH <urn:ledgraph:meta> { <urn:ledgraph:selection> <https://ledgraph.dev/ns#selectedEvents> ?n } }",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let selected = events.iter().filter(|(a, _, _)| *a != excluded).count();
    assert_eq!(
        stdout(&out).lines().nth(1),
        Some(selected.to_string().as_str())
    );

    // The same by name, from a directory without queries/: the embedded copy.
    let into2 = dir.path().join("only");
    let out = Command::new(env!("CARGO_BIN_EXE_ledgraph"))
        .current_dir(dir.path())
        .args(["--data", &data.display().to_string()])
        .args(["replay", "--select", "replay/by-actor", "--param"])
        .arg(format!("actor={hex_actor}"))
        .args(["--into", &into2.display().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        state_of(&into2),
        apply(events.iter().filter(|(a, _, _)| *a == excluded))
    );

    // A custom selection file with its own parameter.
    let file = dir.path().join("odd.rq");
    std::fs::write(
        &file,
        "# title: odd\n# description: events with the odd predicate up to a seq\n\
         # param: below integer — first seq left out\n\
         PREFIX lg: <https://ledgraph.dev/ns#>\n\
         SELECT ?seq WHERE { VALUES ?below { UNDEF } GRAPH <urn:ledgraph:log> {\n\
           ?e lg:predicate <https://example.org/odd> ; lg:seq ?seq } FILTER (?seq < ?below) }\n",
    )
    .unwrap();
    let into3 = dir.path().join("odd");
    let out = ledgraph(
        &data,
        &[
            "replay",
            "--select",
            &file.display().to_string(),
            "--param",
            "below=50",
            "--into",
            &into3.display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        state_of(&into3),
        apply(
            events
                .iter()
                .take(50)
                .filter(|(_, _, q)| q.predicate.as_str().ends_with("odd"))
        )
    );
}

#[test]
fn bad_selections_and_parameters_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (log, _) = open(&data, LogConfig::default());
    random_log(&log, &mut Rng::new(7));
    log.close().unwrap();
    let into = dir.path().join("into");
    let into_arg = into.display().to_string();
    for (args, message) in [
        (
            vec![
                "replay",
                "--select",
                "replay/except-actor",
                "--into",
                &into_arg,
            ],
            "\"actor\"",
        ),
        (
            vec![
                "replay",
                "--select",
                "replay/by-predicate",
                "--param",
                "p=not an iri",
                "--into",
                &into_arg,
            ],
            "\"p\"",
        ),
        (
            vec![
                "replay",
                "--select",
                "replay/by-predicate",
                "--param",
                "q=https://e.org/",
                "--into",
                &into_arg,
            ],
            "\"q\"",
        ),
        (
            vec!["replay", "--select", "replay/nope", "--into", &into_arg],
            "replay/nope",
        ),
    ] {
        let out = ledgraph(&data, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!into.exists(), "{args:?} wrote nothing");
    }
    let out = ledgraph(
        &data,
        &[
            "replay",
            "--select",
            "replay/by-actor",
            "--to",
            "3",
            "--into",
            &into_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "--select and --to conflict");
}
