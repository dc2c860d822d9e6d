//! Graph Store Protocol writes as deltas: PUT replaces a graph with only the effective
//! changes, DELETE empties it, and the reserved graphs and blank nodes are refused.

use ledgraph::event::Op;
use ledgraph::store::{GraphStore, StoreError, clear_graph_delta, replace_graph_delta};
use oxigraph::io::RdfFormat;
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, Triple};

const SETUP: &str = r#"
<https://e.org/a> <https://e.org/p> "1" <https://e.org/g> .
<https://e.org/b> <https://e.org/p> "2" <https://e.org/g> .
<https://e.org/c> <https://e.org/p> "3" .
"#;

fn store(dir: &std::path::Path) -> GraphStore {
    let store = GraphStore::open(dir).unwrap();
    store
        .oxigraph()
        .load_from_slice(RdfFormat::NQuads, SETUP)
        .unwrap();
    store
}

fn t(s: &str, o: &str) -> Triple {
    Triple::new(
        NamedNode::new_unchecked(format!("https://e.org/{s}")),
        NamedNode::new_unchecked("https://e.org/p"),
        Literal::new_simple_literal(o),
    )
}

fn g() -> GraphName {
    NamedNode::new_unchecked("https://e.org/g").into()
}

#[test]
fn put_removes_what_is_gone_and_adds_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let changes =
        replace_graph_delta(&store, &g(), vec![t("b", "2"), t("d", "4"), t("d", "4")]).unwrap();
    let shown: Vec<(Op, String)> = changes.iter().map(|(op, q)| (*op, q.to_string())).collect();
    assert_eq!(
        shown,
        [
            (
                Op::Remove,
                r#"<https://e.org/a> <https://e.org/p> "1" <https://e.org/g>"#.to_owned()
            ),
            (
                Op::Add,
                r#"<https://e.org/d> <https://e.org/p> "4" <https://e.org/g>"#.to_owned()
            ),
        ]
    );
    // The default graph is untouched by a PUT of a named graph, and the same PUT twice is empty.
    let same = replace_graph_delta(&store, &g(), vec![t("a", "1"), t("b", "2")]).unwrap();
    assert!(same.is_empty(), "{same:?}");
    let default = replace_graph_delta(&store, &GraphName::DefaultGraph, vec![]).unwrap();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0].0, Op::Remove);
}

#[test]
fn delete_empties_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let changes = clear_graph_delta(&store, &g()).unwrap();
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|(op, q)| *op == Op::Remove && q.graph_name == g())
    );
    let missing = clear_graph_delta(
        &store,
        &NamedNode::new_unchecked("https://e.org/none").into(),
    )
    .unwrap();
    assert!(missing.is_empty());
}

#[test]
fn reserved_graphs_and_blank_nodes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    for reserved in ["urn:ledgraph:log", "urn:ledgraph:meta"] {
        let graph: GraphName = NamedNode::new_unchecked(reserved).into();
        assert!(matches!(
            replace_graph_delta(&store, &graph, vec![]),
            Err(StoreError::ReservedGraph { .. })
        ));
        assert!(matches!(
            clear_graph_delta(&store, &graph),
            Err(StoreError::ReservedGraph { .. })
        ));
    }
    let blank = Triple::new(
        BlankNode::new_unchecked("b"),
        NamedNode::new_unchecked("https://e.org/p"),
        Literal::new_simple_literal("x"),
    );
    assert!(matches!(
        replace_graph_delta(&store, &g(), vec![blank]),
        Err(StoreError::Invalid(_))
    ));
}
