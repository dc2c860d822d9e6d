//! The SPARQL 1.1 Protocol, updates: each effective update is appended as one log transaction
//! (adds and removes as computed against the current state) and then visible to queries; an
//! update without effect appends nothing; LOAD, syntax errors and writes to the graphs
//! ledgraph maintains are refused.

mod common;

use axum::http::StatusCode;
use common::http::{TestServer, encode};
use common::sparql::{EX, NAMES, check_appended, names_position, server_with_people};
use ledgraph::event::Op;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_data_is_appended_as_one_transaction_then_visible() {
    let server = server_with_people().await;
    let before = server.log_size();
    let update = "PREFIX ex: <https://example.org/>\n\
        INSERT DATA { ex:erin ex:name \"Erin\" . ex:erin ex:knows ex:alice . GRAPH ex:g1 { ex:erin ex:age 30 } }";
    let reply = server
        .post("/update", "application/sparql-update", update)
        .await;
    check_appended(&server, &reply, before, 3);
    assert_eq!(
        server.logged(before),
        [
            "add <https://example.org/erin> <https://example.org/age> \"30\"^^<http://www.w3.org/2001/XMLSchema#integer> <https://example.org/g1>",
            "add <https://example.org/erin> <https://example.org/knows> <https://example.org/alice> DEFAULT",
            "add <https://example.org/erin> <https://example.org/name> \"Erin\" DEFAULT",
        ]
    );
    server.caught_up().await;
    assert_eq!(
        server.select_values(NAMES, "name").await,
        ["Alice", "Bob", "Erin"]
    );
    assert!(
        server
            .ask("ASK { GRAPH <https://example.org/g1> { <https://example.org/erin> ?p 30 } }")
            .await
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_insert_where_appends_its_removes_and_adds() {
    let server = server_with_people().await;
    let before = server.log_size();
    let update = "PREFIX ex: <https://example.org/>\n\
        DELETE { ?s ex:name ?n } INSERT { ?s ex:label ?n } WHERE { ?s ex:name ?n }";
    // Form POST to /sparql is the other way to send an update.
    let reply = server
        .post(
            "/sparql",
            "application/x-www-form-urlencoded",
            format!("update={}", encode(update)),
        )
        .await;
    check_appended(&server, &reply, before, 4);
    assert_eq!(
        server.logged(before),
        [
            "add <https://example.org/alice> <https://example.org/label> \"Alice\" DEFAULT",
            "add <https://example.org/bob> <https://example.org/label> \"Bob\" DEFAULT",
            "remove <https://example.org/alice> <https://example.org/name> \"Alice\" DEFAULT",
            "remove <https://example.org/bob> <https://example.org/name> \"Bob\" DEFAULT",
        ]
    );
    server.caught_up().await;
    assert!(server.select_values(NAMES, "name").await.is_empty());
    assert_eq!(
        server
            .select_values("SELECT ?l WHERE { ?s <https://example.org/label> ?l }", "l")
            .await,
        ["Alice", "Bob"]
    );
    // The named graphs were not the WHERE's dataset.
    assert!(
        server
            .ask(
                "ASK { GRAPH <https://example.org/g1> { ?s <https://example.org/name> \"Carol\" } }"
            )
            .await
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_appends_a_remove_for_every_triple_of_the_graph() {
    let server = server_with_people().await;
    let before = server.log_size();
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "CLEAR GRAPH <https://example.org/g1>",
        )
        .await;
    check_appended(&server, &reply, before, 1);
    assert_eq!(
        server.logged(before),
        [
            "remove <https://example.org/carol> <https://example.org/name> \"Carol\" <https://example.org/g1>"
        ]
    );
    let before = server.log_size();
    let reply = server
        .post("/update", "application/sparql-update", "CLEAR DEFAULT")
        .await;
    check_appended(&server, &reply, before, 3);
    assert!(
        server
            .changes_from(before)
            .iter()
            .all(|(op, _)| *op == Op::Remove)
    );
    server.caught_up().await;
    assert!(
        !server.ask("ASK { ?s ?p ?o }").await,
        "the default graph is empty"
    );
    assert!(
        !server
            .ask("ASK { GRAPH <https://example.org/g1> { ?s ?p ?o } }")
            .await
    );
    assert!(
        server
            .ask("ASK { GRAPH <https://example.org/g2> { ?s ?p ?o } }")
            .await
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn using_graph_uri_sets_the_update_s_where_dataset() {
    let server = server_with_people().await;
    let before = server.log_size();
    let update =
        "INSERT { ?s <https://example.org/seen> true } WHERE { ?s <https://example.org/name> ?n }";
    let reply = server
        .post(
            &format!("/update?using-graph-uri={}", encode(&format!("{EX}g1"))),
            "application/sparql-update",
            update,
        )
        .await;
    check_appended(&server, &reply, before, 1);
    assert_eq!(
        server.logged(before),
        [
            "add <https://example.org/carol> <https://example.org/seen> \"true\"^^<http://www.w3.org/2001/XMLSchema#boolean> DEFAULT"
        ]
    );
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_without_effect_is_204_and_appends_nothing() {
    let server = server_with_people().await;
    let before = server.log_size();
    for update in [
        "INSERT DATA { <https://example.org/alice> <https://example.org/name> \"Alice\" }",
        "DELETE DATA { <https://example.org/nobody> <https://example.org/name> \"Nobody\" }",
        "DELETE WHERE { ?s <https://example.org/unused> ?o }",
        "CLEAR GRAPH <https://example.org/empty>",
        "CREATE SILENT GRAPH <https://example.org/new>",
    ] {
        let reply = server
            .post("/update", "application/sparql-update", update)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{update}: {}",
            reply.text()
        );
        assert!(reply.body.is_empty(), "a 204 has no body");
        assert_eq!(server.log_size(), before, "{update} appended events");
    }
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_updates_are_400_and_append_nothing() {
    let server = server_with_people().await;
    let before = server.log_size();
    for update in [
        "LOAD <https://example.org/data.ttl>",
        "LOAD SILENT <https://example.org/data.ttl> INTO GRAPH <https://example.org/g9>",
        "INSERT DATA { GRAPH <urn:ledgraph:log> { <https://example.org/s> <https://example.org/p> 1 } }",
        "INSERT DATA { GRAPH <urn:ledgraph:meta> { <https://example.org/s> <https://example.org/p> 1 } }",
        "CLEAR GRAPH <urn:ledgraph:log>",
        "DROP GRAPH <urn:ledgraph:meta>",
    ] {
        let reply = server
            .post("/update", "application/sparql-update", update)
            .await;
        reply.assert_error(StatusCode::BAD_REQUEST);
        assert_eq!(server.log_size(), before, "{update} appended events");
    }
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "INSERT DATA {\n  <https://example.org/s> <https://example.org/p> }",
        )
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST);
    assert!(
        names_position(&reply, 2),
        "no line 2 position in {}",
        reply.text()
    );
    assert_eq!(server.log_size(), before);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_sees_events_published_just_before_it() {
    let server = TestServer::start();
    server
        .publish(
            "application/n-triples",
            "<https://example.org/s> <https://example.org/p> \"fresh\" .\n",
        )
        .await;
    // No wait for the projection: the update must wait for it itself.
    let before = server.log_size();
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "DELETE WHERE { <https://example.org/s> <https://example.org/p> ?o }",
        )
        .await;
    check_appended(&server, &reply, before, 1);
    assert_eq!(server.changes_from(before)[0].0, Op::Remove);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_nodes_in_an_update_are_skolemized() {
    let server = TestServer::start();
    let reply = server
        .post(
            "/update",
            "application/sparql-update",
            "INSERT DATA { _:b <https://example.org/p> \"x\" . _:b <https://example.org/q> \"y\" }",
        )
        .await;
    check_appended(&server, &reply, 0, 2);
    let genid = format!(
        "<{}/.well-known/genid/",
        server.state.genid_base.trim_end_matches('/')
    );
    let subjects: Vec<String> = server
        .changes_from(0)
        .iter()
        .map(|(_, q)| q.subject.to_string())
        .collect();
    assert!(
        subjects.iter().all(|s| s.starts_with(&genid)),
        "{subjects:?}"
    );
    assert_eq!(subjects[0], subjects[1], "one label, one Skolem IRI");
    server.close().await;
}
