//! SPARQL Update as a delta: for each update, applying our delta gives the dataset Oxigraph's
//! own `update()` gives, the store is untouched while computing it, and bad or forbidden
//! updates are refused with a usable error.

use std::collections::BTreeSet;

use ledgraph::event::Op;
use ledgraph::event::skolem::Skolemizer;
use ledgraph::store::{GraphStore, UpdateDataset, UpdateError, update_delta};
use oxigraph::io::RdfFormat;
use oxigraph::sparql::CancellationToken;
use oxigraph::store::Store;
use oxrdf::{NamedOrBlankNode, Quad, Term};

const CHANGES_MAX: usize = 10_000;

/// The starting dataset of every comparison.
const SETUP: &str = r#"
<https://e.org/a> <https://e.org/p> "1" .
<https://e.org/a> <https://e.org/q> <https://e.org/b> .
<https://e.org/b> <https://e.org/p> "2" .
<https://e.org/c> <https://e.org/p> "3" <https://e.org/g1> .
<https://e.org/c> <https://e.org/q> <https://e.org/a> <https://e.org/g1> .
<https://e.org/d> <https://e.org/p> "4" <https://e.org/g2> .
"#;

fn ours(dir: &std::path::Path) -> GraphStore {
    let store = GraphStore::open(dir).unwrap();
    store
        .oxigraph()
        .load_from_slice(RdfFormat::NQuads, SETUP)
        .unwrap();
    store
}

fn dataset(store: &Store) -> BTreeSet<String> {
    store.iter().map(|q| q.unwrap().to_string()).collect()
}

fn skolemizer() -> Skolemizer {
    Skolemizer::new("https://node.test", [9; 16])
}

fn delta(store: &GraphStore, update: &str) -> Result<Vec<(Op, Quad)>, UpdateError> {
    update_delta(
        store,
        update,
        None,
        &UpdateDataset::default(),
        &mut skolemizer(),
        CancellationToken::new(),
        CHANGES_MAX,
    )
}

fn apply(store: &GraphStore, changes: &[(Op, Quad)]) {
    let mut tx = store.oxigraph().start_transaction().unwrap();
    for (op, q) in changes {
        match op {
            Op::Add => tx.insert(q),
            Op::Remove => tx.remove(q),
        }
    }
    tx.commit().unwrap();
}

/// Updates whose result must equal Oxigraph's (no blank nodes inserted, no errors).
const CASES: &[&str] = &[
    r#"INSERT DATA { <https://e.org/x> <https://e.org/p> "new" }"#,
    r#"INSERT DATA { GRAPH <https://e.org/g3> { <https://e.org/x> <https://e.org/p> "new" } }"#,
    r#"INSERT DATA { <https://e.org/a> <https://e.org/p> "1" }"#,
    r#"DELETE DATA { <https://e.org/a> <https://e.org/p> "1" . <https://e.org/zz> <https://e.org/p> "absent" }"#,
    r#"DELETE DATA { GRAPH <https://e.org/g1> { <https://e.org/c> <https://e.org/p> "3" } }"#,
    r#"DELETE WHERE { ?s <https://e.org/p> ?o }"#,
    r#"DELETE WHERE { GRAPH ?g { ?s <https://e.org/p> ?o } }"#,
    r#"DELETE { ?s <https://e.org/p> ?o } INSERT { ?s <https://e.org/p2> ?o } WHERE { ?s <https://e.org/p> ?o }"#,
    r#"INSERT { ?s <https://e.org/label> ?label } WHERE { ?s <https://e.org/p> ?o OPTIONAL { ?s <https://e.org/none> ?label } }"#,
    r#"INSERT { ?s <https://e.org/twice> ?n } WHERE { ?s <https://e.org/p> ?o BIND(STRLEN(?o) * 2 AS ?n) }"#,
    r#"INSERT { GRAPH ?g { ?s <https://e.org/seen> true } } WHERE { GRAPH ?g { ?s ?p ?o } }"#,
    r#"WITH <https://e.org/g1> DELETE { ?s <https://e.org/p> ?o } INSERT { ?s <https://e.org/p> "changed" } WHERE { ?s <https://e.org/p> ?o }"#,
    r#"DELETE { ?s <https://e.org/p> ?o } USING <https://e.org/g1> WHERE { ?s <https://e.org/p> ?o }"#,
    r#"INSERT { ?s <https://e.org/copied> ?o } USING NAMED <https://e.org/g2> WHERE { GRAPH ?g { ?s <https://e.org/p> ?o } }"#,
    r#"CLEAR GRAPH <https://e.org/g1>"#,
    r#"CLEAR DEFAULT"#,
    r#"CLEAR NAMED"#,
    r#"CLEAR ALL"#,
    r#"DROP GRAPH <https://e.org/g2>"#,
    r#"DROP DEFAULT"#,
    r#"DROP NAMED"#,
    r#"DROP ALL"#,
    r#"CREATE SILENT GRAPH <https://e.org/new>"#,
    r#"ADD <https://e.org/g1> TO <https://e.org/g2>"#,
    r#"ADD DEFAULT TO <https://e.org/g1>"#,
    r#"COPY <https://e.org/g1> TO DEFAULT"#,
    r#"COPY DEFAULT TO <https://e.org/g2>"#,
    r#"MOVE <https://e.org/g2> TO <https://e.org/g1>"#,
    r#"MOVE DEFAULT TO <https://e.org/g3>"#,
    r#"INSERT DATA { <https://e.org/x> <https://e.org/p> "1" } ;
       DELETE WHERE { ?s <https://e.org/p> "1" } ;
       INSERT { ?s <https://e.org/after> ?o } WHERE { ?s <https://e.org/p> ?o }"#,
    r#"DELETE DATA { <https://e.org/a> <https://e.org/p> "1" } ;
       INSERT DATA { <https://e.org/a> <https://e.org/p> "1" }"#,
    r#"PREFIX e: <https://e.org/>
       DELETE { ?a e:q ?b } INSERT { ?b e:q ?a } WHERE { ?a e:q ?b FILTER NOT EXISTS { ?b e:q ?a } }"#,
];

#[test]
fn delta_gives_the_same_dataset_as_oxigraph_update() {
    let dir = tempfile::tempdir().unwrap();
    for (i, update) in CASES.iter().enumerate() {
        let reference = Store::new().unwrap();
        reference.load_from_slice(RdfFormat::NQuads, SETUP).unwrap();
        reference
            .update(*update)
            .unwrap_or_else(|e| panic!("reference failed on {update}: {e}"));
        let store = ours(&dir.path().join(format!("case{i}")));
        let before = dataset(store.oxigraph());
        let changes = delta(&store, update).unwrap_or_else(|e| panic!("{update}: {e}"));
        assert_eq!(
            dataset(store.oxigraph()),
            before,
            "computing the delta changed the store: {update}"
        );
        apply(&store, &changes);
        assert_eq!(
            dataset(store.oxigraph()),
            dataset(&reference),
            "different result for {update}\ndelta: {changes:?}"
        );
    }
}

#[test]
fn only_effective_changes_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    let none = delta(
        &store,
        r#"INSERT DATA { <https://e.org/a> <https://e.org/p> "1" } ;
           DELETE DATA { <https://e.org/nothing> <https://e.org/p> "here" }"#,
    )
    .unwrap();
    assert!(none.is_empty(), "{none:?}");
    // Three solutions bind ?s to the same subject: one delete, not three.
    let one = delta(
        &store,
        r#"DELETE { <https://e.org/a> <https://e.org/p> "1" } WHERE { ?s ?p ?o }"#,
    )
    .unwrap();
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(one[0].0, Op::Remove);
}

#[test]
fn later_operations_see_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    let changes = delta(
        &store,
        r#"INSERT DATA { <https://e.org/n> <https://e.org/p> "5" } ;
           INSERT { ?s <https://e.org/seen> "yes" } WHERE { ?s <https://e.org/p> "5" }"#,
    )
    .unwrap();
    let added: Vec<String> = changes.iter().map(|(_, q)| q.to_string()).collect();
    assert_eq!(
        added,
        [
            r#"<https://e.org/n> <https://e.org/p> "5""#,
            r#"<https://e.org/n> <https://e.org/seen> "yes""#
        ]
    );
}

#[test]
fn syntax_error_reports_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    let err = delta(
        &store,
        "INSERT DATA {\n  <https://e.org/a> <https://e.org/p> }",
    )
    .unwrap_err();
    let UpdateError::Syntax {
        message,
        line,
        column,
    } = &err
    else {
        panic!("not a syntax error: {err}")
    };
    assert_eq!(*line, Some(2), "{message}");
    assert!(column.is_some_and(|c| c > 1), "{message}");
    for bad in [
        "",
        "SELECT * WHERE { ?s ?p ?o }",
        "INSERT DATA { ?s <https://e.org/p> 1 }",
        "\u{0}",
    ] {
        let err = delta(&store, bad);
        // The empty update is valid SPARQL (no operations) and gives no change.
        if bad.is_empty() {
            assert!(err.unwrap().is_empty());
        } else {
            assert!(
                matches!(err, Err(UpdateError::Syntax { .. })),
                "{bad:?}: {err:?}"
            );
        }
    }
}

#[test]
fn base_iri_resolves_relative_iris() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    let changes = update_delta(
        &store,
        r#"INSERT DATA { <s> <p> "v" }"#,
        Some("https://base.test/dir/"),
        &UpdateDataset::default(),
        &mut skolemizer(),
        CancellationToken::new(),
        CHANGES_MAX,
    )
    .unwrap();
    assert_eq!(
        changes[0].1.to_string(),
        r#"<https://base.test/dir/s> <https://base.test/dir/p> "v""#
    );
    let err = update_delta(
        &store,
        "CLEAR ALL",
        Some("not an iri"),
        &UpdateDataset::default(),
        &mut skolemizer(),
        CancellationToken::new(),
        CHANGES_MAX,
    )
    .unwrap_err();
    assert!(matches!(err, UpdateError::Syntax { .. }), "{err}");
}

#[test]
fn load_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    for update in [
        "LOAD <https://e.org/data.ttl>",
        "LOAD SILENT <https://e.org/data.ttl> INTO GRAPH <https://e.org/g>",
        r#"INSERT DATA { <https://e.org/x> <https://e.org/p> "1" } ; LOAD <http://127.0.0.1:9/x>"#,
    ] {
        let err = delta(&store, update).unwrap_err();
        assert!(
            matches!(err, UpdateError::Unsupported(_)),
            "{update}: {err}"
        );
    }
}

#[test]
fn more_changes_than_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    let run = |update: &str, max| {
        update_delta(
            &store,
            update,
            None,
            &UpdateDataset::default(),
            &mut skolemizer(),
            CancellationToken::new(),
            max,
        )
    };
    let three = r#"INSERT DATA { <https://e.org/x> <https://e.org/p> "1", "2", "3" }"#;
    assert_eq!(run(three, 3).unwrap().len(), 3);
    assert!(matches!(
        run(three, 2),
        Err(UpdateError::Limit { changes_max: 2 })
    ));
    assert!(matches!(
        run("DELETE WHERE { GRAPH ?g { ?s ?p ?o } }", 1),
        Err(UpdateError::Limit { changes_max: 1 })
    ));
    // Template instantiations are bounded too, even when they change nothing.
    assert!(matches!(
        run(r#"INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"#, 0),
        Err(UpdateError::Limit { .. })
    ));
}

#[test]
fn writes_to_the_reserved_graphs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    // Give the reserved graphs content, as a live store has.
    store
        .oxigraph()
        .load_from_slice(
            RdfFormat::NQuads,
            "<urn:ledgraph:event:0> <https://ledgraph.dev/ns#seq> \"0\"^^<http://www.w3.org/2001/XMLSchema#integer> <urn:ledgraph:log> .\n\
             <urn:ledgraph:projection:state> <https://ledgraph.dev/ns#appliedSize> \"1\"^^<http://www.w3.org/2001/XMLSchema#integer> <urn:ledgraph:meta> .\n",
        )
        .unwrap();
    for update in [
        r#"INSERT DATA { GRAPH <urn:ledgraph:meta> { <urn:ledgraph:projection:state> <https://ledgraph.dev/ns#appliedSize> 99 } }"#,
        r#"INSERT DATA { GRAPH <urn:ledgraph:log> { <https://e.org/x> <https://e.org/p> 1 } }"#,
        r#"DELETE DATA { GRAPH <urn:ledgraph:log> { <urn:ledgraph:event:0> <https://ledgraph.dev/ns#seq> 0 } }"#,
        r#"DELETE WHERE { GRAPH ?g { ?s ?p ?o } }"#,
        r#"INSERT { GRAPH <urn:ledgraph:log> { ?s ?p ?o } } WHERE { ?s ?p ?o }"#,
        "CLEAR GRAPH <urn:ledgraph:meta>",
        "DROP GRAPH <urn:ledgraph:log>",
        "MOVE <urn:ledgraph:log> TO <https://e.org/g9>",
    ] {
        let err = delta(&store, update).unwrap_err();
        let UpdateError::Evaluation(message) = &err else {
            panic!("{update}: {err}")
        };
        assert!(
            message.contains("maintained by ledgraph"),
            "{update}: {message}"
        );
    }
    // Reading them is fine, and CLEAR ALL / DROP NAMED leave them alone.
    let copied = delta(
        &store,
        "INSERT { ?e <https://e.org/audited> true } WHERE { GRAPH <urn:ledgraph:log> { ?e ?p ?o } }",
    )
    .unwrap();
    assert_eq!(copied.len(), 1);
    for update in ["CLEAR ALL", "DROP NAMED"] {
        let changes = delta(&store, update).unwrap();
        assert!(!changes.is_empty());
        assert!(
            changes
                .iter()
                .all(|(_, q)| !q.graph_name.to_string().starts_with("<urn:ledgraph:")),
            "{update}: {changes:?}"
        );
    }
}

fn is_skolem(t: &NamedOrBlankNode) -> bool {
    matches!(t, NamedOrBlankNode::NamedNode(n) if n.as_str().starts_with("https://node.test/.well-known/genid/"))
}

#[test]
fn inserted_blank_nodes_are_skolemized_fresh_per_solution() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    let data = delta(
        &store,
        r#"INSERT DATA { _:x <https://e.org/p> "1" . _:x <https://e.org/q> _:y }"#,
    )
    .unwrap();
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|(_, q)| is_skolem(&q.subject)));
    assert_eq!(
        data[0].1.subject, data[1].1.subject,
        "same label, same node"
    );
    assert!(
        matches!(&data[1].1.object, Term::NamedNode(n) if n.as_str().contains("/.well-known/genid/"))
    );

    // Two solutions (a and b in the default graph with lg:p): two fresh nodes.
    let per_solution = delta(
        &store,
        r#"INSERT { _:n <https://e.org/about> ?s } WHERE { ?s <https://e.org/p> ?o }"#,
    )
    .unwrap();
    assert_eq!(per_solution.len(), 2);
    assert!(per_solution.iter().all(|(_, q)| is_skolem(&q.subject)));
    assert_ne!(per_solution[0].1.subject, per_solution[1].1.subject);
    // BNODE() results are skolemized as well.
    let generated = delta(
        &store,
        r#"INSERT { ?b <https://e.org/p> "x" } WHERE { BIND(BNODE() AS ?b) }"#,
    )
    .unwrap();
    assert_eq!(generated.len(), 1);
    assert!(is_skolem(&generated[0].1.subject));
}

#[test]
fn a_cancelled_update_stops_with_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = ours(dir.path());
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = update_delta(
        &store,
        "DELETE WHERE { ?s ?p ?o }",
        None,
        &UpdateDataset::default(),
        &mut skolemizer(),
        cancel,
        CHANGES_MAX,
    )
    .unwrap_err();
    assert!(matches!(err, UpdateError::Cancelled), "{err}");
}
