//! Migrations: applied through the log as one transaction with their record, once; an edited
//! or out-of-order migration is refused (409, or an error naming it from the CLI); the record
//! graph cannot be written by clients and survives replay; migrations pass SHACL admission.

mod common;

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use common::cli::{ledgraph, stdout};
use common::http::{TestServer, encode};
use ledgraph::store::GraphStore;
use ledgraph::store::migration::{self, MIGRATIONS_GRAPH, Migration};
use ledgraph::store::replay::{ReplayOptions, replay_from};

const NAME: &str = "0001_work_order_priority";
const PRIORITY_ASK: &str =
    "ASK { <https://example.org/plant#wo-1001> <https://example.org/plant#priority> \"normal\" }";

fn repo_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

fn example_text() -> String {
    std::fs::read_to_string(repo_migrations().join(format!("{NAME}.ru")))
        .expect("the example migration")
}

/// A server with the demo data published and, with `shapes`, the demo shapes enforced.
async fn demo_server(shapes: bool) -> TestServer {
    let server = TestServer::start_with(|c| {
        if shapes {
            c.shapes = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("shapes/demo.ttl"));
        }
    });
    server
        .publish("text/turtle", include_str!("../ontology/demo.ttl"))
        .await;
    server.caught_up().await;
    server
}

async fn post_migration(server: &TestServer, name: &str, text: &str) -> common::http::Reply {
    server
        .post(
            &format!("/v1/migrations/{name}"),
            "application/sparql-update",
            text.to_owned(),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_is_one_transaction_with_its_record_and_applies_once() {
    let server = demo_server(true).await;
    let before = server.log_size();
    let reply = post_migration(&server, NAME, &example_text()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let json = reply.json();
    let digest = Migration::new(NAME, example_text().as_bytes())
        .expect("valid")
        .sha256;
    assert_eq!(json["status"], "applied");
    assert_eq!(json["sha256"], digest.as_str());
    assert_eq!(json["first_seq"], before);
    // Changes and record: one transaction.
    let ends = server.transaction_ends_from(before);
    assert!(ends.len() > 3, "the migration changed something: {ends:?}");
    assert_eq!(ends.iter().filter(|e| **e).count(), 1, "{ends:?}");
    assert_eq!(ends.last(), Some(&true));
    let logged = server.logged(before);
    assert!(
        logged
            .iter()
            .any(|l| l.contains(&digest) && l.contains(MIGRATIONS_GRAPH)),
        "the record carries the digest: {logged:?}"
    );
    server.caught_up().await;
    assert!(server.ask(PRIORITY_ASK).await);
    let listed = server.get("/v1/migrations").await.json();
    assert_eq!(listed["migrations"][0]["name"], NAME);
    assert_eq!(listed["migrations"][0]["sha256"], digest.as_str());

    let size = server.log_size();
    let again = post_migration(&server, NAME, &example_text()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(again.json()["status"], "up to date");
    assert_eq!(server.log_size(), size, "re-applying appends nothing");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_or_out_of_order_migration_is_refused_with_409() {
    let server = demo_server(false).await;
    let reply = post_migration(&server, NAME, &example_text()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let size = server.log_size();

    let edited = example_text().replace("\"normal\"", "\"high\"");
    let reply = post_migration(&server, NAME, &edited).await;
    let error = reply.assert_error(StatusCode::CONFLICT);
    let message = error["error"].as_str().unwrap_or_default();
    assert!(
        message.contains(NAME) && message.contains("edited"),
        "{message}"
    );

    let early = "INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }";
    let reply = post_migration(&server, "0000_early", early).await;
    let error = reply.assert_error(StatusCode::CONFLICT);
    assert!(
        error["error"]
            .as_str()
            .unwrap_or_default()
            .contains("0000_early"),
        "{error}"
    );
    assert_eq!(server.log_size(), size, "refusals append nothing");

    for bad in ["no-number", "0002_a%20b"] {
        let reply = post_migration(&server, bad, early).await;
        reply.assert_error(StatusCode::BAD_REQUEST);
    }
    let reply = post_migration(&server, "0002_syntax", "INSERT DATA { oops").await;
    reply.assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(server.log_size(), size);
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_write_the_migrations_graph() {
    let server = demo_server(false).await;
    let reply = post_migration(&server, NAME, &example_text()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    server.caught_up().await;
    let size = server.log_size();
    let forged = format!(
        "<urn:ledgraph:migration:0002_x> <https://ledgraph.dev/ns#sha256> \"00\" <{MIGRATIONS_GRAPH}> .\n"
    );
    server
        .post("/v1/events", "application/n-quads", forged)
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    let insert = format!(
        "INSERT DATA {{ GRAPH <{MIGRATIONS_GRAPH}> {{ <urn:ledgraph:migration:0002_x> <https://ledgraph.dev/ns#sha256> \"00\" }} }}"
    );
    server
        .post("/update", "application/sparql-update", insert.clone())
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    let delete = format!("DELETE WHERE {{ GRAPH <{MIGRATIONS_GRAPH}> {{ ?s ?p ?o }} }}");
    server
        .post("/update", "application/sparql-update", delete)
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    // Nor through a migration of its own.
    post_migration(&server, "0002_forge", &insert)
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    server
        .send(common::http::request(
            "PUT",
            &format!("/store?graph={}", encode(MIGRATIONS_GRAPH)),
            &[("content-type", "application/n-triples")],
            axum::body::Body::from("<urn:a> <urn:b> <urn:c> .\n"),
        ))
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(server.log_size(), size, "nothing was appended");
    // CLEAR ALL clears the user's graphs and leaves the records.
    let reply = server
        .post("/update", "application/sparql-update", "CLEAR ALL")
        .await;
    assert!(reply.status.is_success(), "{}", reply.text());
    server.caught_up().await;
    let listed = server.get("/v1/migrations").await.json();
    assert_eq!(listed["migrations"][0]["name"], NAME, "{listed}");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_violating_the_shapes_is_refused_and_not_recorded() {
    let server = demo_server(true).await;
    let size = server.log_size();
    let bad = "PREFIX ex: <https://example.org/plant#>\n\
               INSERT { ?o ex:status \"someday\" } WHERE { ?o a ex:WorkOrder }";
    let reply = post_migration(&server, "0001_bad_status", bad).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    assert_eq!(server.log_size(), size);
    let listed = server.get("/v1/migrations").await.json();
    assert_eq!(listed["migrations"], serde_json::json!([]));
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_survive_replay() {
    let server = demo_server(false).await;
    let reply = post_migration(&server, NAME, &example_text()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    server.caught_up().await;
    let live = migration::applied(&server.state.store).expect("applied");
    let into = server.dir.path().join("replayed");
    let reader = server.state.log.reader().clone();
    let target = into.clone();
    tokio::task::spawn_blocking(move || {
        replay_from(&reader, &target, ReplayOptions::default(), &|_, _| {})
    })
    .await
    .expect("replay task")
    .expect("replay");
    let replayed = GraphStore::open_read_only(&into).expect("replayed store");
    assert_eq!(migration::applied(&replayed).expect("applied"), live);
    assert_eq!(live.len(), 1);
    server.close().await;
}

#[test]
fn migrate_from_the_command_line_applies_once_and_refuses_an_edit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let out = ledgraph(&data, &["demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).expect("mkdir");
    let file = migrations.join(format!("{NAME}.ru"));
    std::fs::write(&file, example_text()).expect("write migration");
    std::fs::write(migrations.join("README.md"), "not a migration").expect("write");
    let dir_arg = migrations.to_str().expect("utf-8 path");

    let out = ledgraph(&data, &["migrate", "--dir", dir_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with(&format!("applied {NAME}")),
        "{}",
        stdout(&out)
    );
    let out = ledgraph(&data, &["query", PRIORITY_ASK]);
    assert_eq!(stdout(&out).trim(), "true");

    let out = ledgraph(&data, &["migrate", "--dir", dir_arg]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("up to date"), "{}", stdout(&out));

    std::fs::write(&file, example_text().replace("\"normal\"", "\"high\"")).expect("edit");
    let out = ledgraph(&data, &["migrate", "--dir", dir_arg]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(NAME) && stderr.contains("edited"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_of_one_migration_apply_it_once() {
    let server = demo_server(false).await;
    let before = server.log_size();
    let text = example_text();
    let replies =
        futures_util::future::join_all((0..4).map(|_| post_migration(&server, NAME, &text))).await;
    let statuses: Vec<StatusCode> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        3,
        "{statuses:?}"
    );
    let ends = server.transaction_ends_from(before);
    assert_eq!(ends.iter().filter(|e| **e).count(), 1, "one transaction");
    server.close().await;
}
