//! Backup and restore: a backup taken while a server publishes restores to the store the
//! source had at the backup's checkpoint; a backup whose log does not verify against its
//! signed checkpoint — one flipped byte anywhere, a rewritten event with valid checksums, a
//! truncated, missing or extra file — is refused and nothing is restored.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::StatusCode;
use common::cli::{ledgraph, stdout};
use common::http::{TestServer, encode};
use common::{Rng, batch, copy_dir, small_segments};
use ledgraph::cli::backup_cmd::{MANIFEST_FILE, Manifest, backup, restore};
use ledgraph::cli::verify_remote::VerifyFailed;
use ledgraph::log::LogConfig;
use ledgraph::store::GraphStore;
use ledgraph::store::replay::{ReplayOptions, replay_from};
use sha2::{Digest, Sha256};

const COUNT_QUERY: &str = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }";

/// A closed log of 40 transactions over several segments, backed up into `dir/backup`.
fn small_backup(dir: &Path) -> (PathBuf, Manifest) {
    let data = dir.join("data");
    let (log, _) = common::open(&data, small_segments());
    for t in 0..40 {
        log.append(batch(t * 5, 5)).expect("append");
    }
    log.close().expect("close");
    let into = dir.join("backup");
    let manifest = backup(&data, &into, None).expect("backup");
    assert_eq!(manifest.size, 200);
    assert!(
        manifest
            .files
            .iter()
            .filter(|f| f.path.starts_with("log/segments/"))
            .count()
            > 2,
        "the log spans several segments"
    );
    (into, manifest)
}

fn read_manifest(backup: &Path) -> Manifest {
    let text = std::fs::read(backup.join(MANIFEST_FILE)).expect("manifest");
    serde_json::from_slice(&text).expect("manifest JSON")
}

/// What an attacker who also rewrites the manifest would do after changing `file`.
fn fix_manifest(backup: &Path, file: &str) {
    let mut manifest = read_manifest(backup);
    let bytes = std::fs::read(backup.join(file)).expect("tampered file");
    for entry in manifest.files.iter_mut().filter(|f| f.path == file) {
        entry.bytes = bytes.len() as u64;
        entry.sha256 = hex::encode(Sha256::digest(&bytes));
    }
    let text = serde_json::to_vec_pretty(&manifest).expect("serialize");
    std::fs::write(backup.join(MANIFEST_FILE), text).expect("write manifest");
}

/// Restore must refuse with a verification failure and leave `into` absent.
fn assert_refused(backup: &Path, into: &Path, what: &str) -> String {
    let error = match restore(backup, into, None, None) {
        Ok(_) => panic!("{what}: the backup was restored"),
        Err(e) => e,
    };
    assert!(
        error.downcast_ref::<VerifyFailed>().is_some(),
        "{what}: not a verification failure: {error:#}"
    );
    assert!(!into.exists(), "{what}: restore wrote {}", into.display());
    format!("{error:#}")
}

#[test]
fn a_flipped_byte_anywhere_in_the_log_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (original, manifest) = small_backup(dir.path());
    let targets: Vec<&str> = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("log/"))
        .map(|f| f.path.as_str())
        .collect();
    let mut rng = Rng::from_env("a_flipped_byte_anywhere_in_the_log_is_refused");
    for trial in 0..16 {
        let copy = dir.path().join(format!("copy-{trial}"));
        copy_dir(&original, &copy);
        let file = targets[rng.range(0, targets.len() as u64) as usize];
        let path = copy.join(file);
        let mut bytes = std::fs::read(&path).expect("read");
        let at = rng.range(0, bytes.len() as u64) as usize;
        bytes[at] ^= 1 << rng.range(0, 8);
        std::fs::write(&path, &bytes).expect("write");
        // Half the time the attacker also fixes the manifest: the signed checkpoint still
        // refuses it.
        let fixed = trial % 2 == 1;
        if fixed {
            fix_manifest(&copy, file);
        }
        let what = format!("trial {trial}: {file} byte {at} (manifest fixed: {fixed})");
        let message = assert_refused(&copy, &dir.path().join(format!("restored-{trial}")), &what);
        eprintln!("{what}: {message}");
        if fixed {
            assert!(
                !message.contains("SHA-256 of the manifest"),
                "{what}: refused by the manifest, not by verification: {message}"
            );
        }
    }
    // The untouched backup restores.
    let restored = restore(&original, &dir.path().join("restored"), None, None).expect("restore");
    assert_eq!(restored.events, 200);
}

#[test]
fn a_rewritten_event_with_valid_checksums_is_refused_by_the_signed_root() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (backup, _) = small_backup(dir.path());
    let file = "log/segments/00000000000000000000.seg";
    let path = backup.join(file);
    let mut bytes = std::fs::read(&path).expect("read");
    // The first record: len:u32 kind:u8 header_crc:u32 payload_crc:u32 payload.
    let start = 28;
    let len = u32::from_le_bytes(bytes[start..start + 4].try_into().expect("4 bytes")) as usize;
    let payload = start + 13..start + 13 + len;
    let digit = bytes[payload.clone()]
        .iter()
        .rposition(u8::is_ascii_digit)
        .expect("a digit in the first event")
        + payload.start;
    bytes[digit] = if bytes[digit] == b'9' {
        b'8'
    } else {
        bytes[digit] + 1
    };
    let crc = crc32c::crc32c(&bytes[payload.clone()]);
    bytes[start + 9..start + 13].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    fix_manifest(&backup, file);
    // The stored tree would give it away too: the attacker drops the derived files (a backup
    // may hold them empty), so only the signed root is left to notice.
    for (name, magic) in [
        ("log/tree", ledgraph::log::derived::TREE_MAGIC),
        ("log/index", ledgraph::log::derived::INDEX_MAGIC),
    ] {
        std::fs::write(backup.join(name), magic).expect("write derived file");
        fix_manifest(&backup, name);
    }
    let message = assert_refused(&backup, &dir.path().join("restored"), "rewritten event");
    assert!(message.contains("root"), "{message}");
}

#[test]
fn truncated_missing_or_extra_files_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (original, manifest) = small_backup(dir.path());
    let last_segment = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("log/segments/"))
        .map(|f| f.path.clone())
        .max()
        .expect("a segment");
    type Damage = Box<dyn Fn(&Path)>;
    let truncate = |fix: bool, file: String| -> Damage {
        Box::new(move |copy: &Path| {
            let path = copy.join(&file);
            let len = std::fs::metadata(&path).expect("metadata").len();
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open");
            f.set_len(len - 10).expect("truncate");
            if fix {
                fix_manifest(copy, &file);
            }
        })
    };
    let cases: Vec<(&str, Damage)> = vec![
        (
            "truncated last segment",
            truncate(false, last_segment.clone()),
        ),
        (
            "truncated last segment, manifest fixed",
            truncate(true, last_segment.clone()),
        ),
        (
            "truncated checkpoints, manifest fixed",
            truncate(true, "log/checkpoints".into()),
        ),
        (
            "missing verifier key",
            Box::new(|copy: &Path| std::fs::remove_file(copy.join("node.vkey")).expect("rm"))
                as Damage,
        ),
        (
            "missing manifest",
            Box::new(|copy: &Path| std::fs::remove_file(copy.join(MANIFEST_FILE)).expect("rm"))
                as Damage,
        ),
        (
            "missing last segment, manifest fixed",
            Box::new({
                let file = last_segment.clone();
                move |copy: &Path| {
                    std::fs::remove_file(copy.join(&file)).expect("rm");
                    let mut manifest = read_manifest(copy);
                    manifest.files.retain(|f| f.path != file);
                    let text = serde_json::to_vec_pretty(&manifest).expect("serialize");
                    std::fs::write(copy.join(MANIFEST_FILE), text).expect("write");
                }
            }) as Damage,
        ),
        (
            "extra segment",
            Box::new({
                let file = last_segment.clone();
                move |copy: &Path| {
                    let extra = copy.join("log/segments/00000000000000000999.seg");
                    std::fs::copy(copy.join(&file), extra).expect("copy");
                }
            }) as Damage,
        ),
    ];
    for (i, (what, damage)) in cases.iter().enumerate() {
        let copy = dir.path().join(format!("copy-{i}"));
        copy_dir(&original, &copy);
        damage(&copy);
        assert_refused(&copy, &dir.path().join(format!("restored-{i}")), what);
    }
}

#[test]
fn restore_and_backup_refuse_a_non_empty_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (original, _) = small_backup(dir.path());
    let target = dir.path().join("occupied");
    std::fs::create_dir_all(&target).expect("mkdir");
    std::fs::write(target.join("keep.txt"), "mine").expect("write");
    let error = restore(&original, &target, None, None).expect_err("restored into a non-empty dir");
    assert!(format!("{error:#}").contains("not empty"), "{error:#}");
    assert_eq!(
        std::fs::read_dir(&target).expect("read dir").count(),
        1,
        "the target is untouched"
    );
    let error = backup(&dir.path().join("data"), &target, None).expect_err("backup");
    assert!(format!("{error:#}").contains("not empty"), "{error:#}");
}

#[test]
fn the_command_line_backs_up_restores_and_exits_3_on_tampering() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (log, _) = common::open(&data, small_segments());
    for t in 0..10 {
        log.append(batch(t * 3, 3)).expect("append");
    }
    log.close().expect("close");
    let backup_dir = dir.path().join("backup");
    let out = ledgraph(&data, &["backup", backup_dir.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with("backed up 30 events"),
        "{}",
        stdout(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("node.key"));

    let tampered = dir.path().join("tampered");
    copy_dir(&backup_dir, &tampered);
    let segment = tampered.join("log/segments/00000000000000000000.seg");
    let mut bytes = std::fs::read(&segment).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&segment, bytes).expect("write");
    let into = dir.path().join("restored-tampered");
    let out = ledgraph(
        &data,
        &[
            "restore",
            tampered.to_str().expect("utf-8"),
            "--into",
            into.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));

    let into = dir.path().join("restored");
    let out = ledgraph(
        &data,
        &[
            "restore",
            backup_dir.to_str().expect("utf-8"),
            "--into",
            into.to_str().expect("utf-8"),
            "--vkey",
            data.join("node.vkey").to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with("restored 30 events"),
        "{}",
        stdout(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    for dir in [&backup_dir, &into] {
        let mode = std::fs::metadata(dir.join("node.key"))
            .expect("node.key")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{}: the signing key stays private",
            dir.display()
        );
    }
    let out = ledgraph(&into, &["log", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ledgraph(&into, &["query", COUNT_QUERY, "--format", "csv"]);
    assert_eq!(stdout(&out).trim().lines().last(), Some("30"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_publishing_restores_the_store_at_its_checkpoint() {
    let server = TestServer::start_with(|c| {
        c.log = LogConfig {
            segment_bytes_max: 16 << 10,
            checkpoint_store_events: 40,
            ..LogConfig::default()
        };
    });
    let data = server.dir.path().join("data");
    let backups = server.dir.path().join("backups");
    let state = server.state.clone();
    // Backups alternate between the server's current checkpoint (`--server`) and the latest
    // stored one (`--data` alone) while this task keeps publishing.
    let taker = tokio::task::spawn_blocking(move || {
        let mut taken = Vec::new();
        for k in 0..4 {
            std::thread::sleep(Duration::from_millis(200));
            let note = (k % 2 == 0).then(|| state.log.checkpoint().note.clone());
            let into = backups.join(format!("backup-{k}"));
            let manifest = backup(&data, &into, note.as_deref()).expect("backup");
            taken.push((into, manifest));
        }
        taken
    });
    let mut published = 0u64;
    while !taker.is_finished() || published < 20 {
        let body: String = (0..8)
            .map(|i| {
                format!(
                    "<https://example.org/b/{published}> <https://example.org/p{i}> \"{published}-{i}\" .\n"
                )
            })
            .collect();
        server.publish("application/n-triples", &body).await;
        if published % 5 == 4 {
            let update = format!(
                "DELETE WHERE {{ <https://example.org/b/{}> <https://example.org/p0> ?o }}",
                published - 2
            );
            let reply = server
                .post("/update", "application/sparql-update", update)
                .await;
            assert!(reply.status.is_success(), "{}", reply.text());
        }
        published += 1;
    }
    let taken = taker.await.expect("backup task");
    server.caught_up().await;
    let final_size = server.log_size();
    eprintln!(
        "backups at sizes {:?} of a log that reached {final_size}",
        taken.iter().map(|(_, m)| m.size).collect::<Vec<_>>()
    );
    assert!(
        taken.iter().any(|(_, m)| m.size > 0 && m.size < final_size),
        "a backup was cut mid-stream: sizes {:?}, log {final_size}",
        taken.iter().map(|(_, m)| m.size).collect::<Vec<_>>()
    );
    for (k, (backup_dir, manifest)) in taken.into_iter().enumerate() {
        let size = manifest.size;
        let into = server.dir.path().join(format!("restored-{k}"));
        let reference = server.dir.path().join(format!("reference-{k}"));
        let reader = server.state.log.reader().clone();
        let (restored, expected, restored_count) = tokio::task::spawn_blocking(move || {
            let restored = restore(&backup_dir, &into, None, None).expect("restore");
            let options = ReplayOptions {
                to: Some(size),
                event_graph: true,
            };
            replay_from(&reader, &reference, options, &|_, _| {}).expect("reference replay");
            let expected = GraphStore::open_read_only(&reference)
                .expect("reference store")
                .dataset_hash()
                .expect("hash");
            let store =
                GraphStore::open_read_only(&ledgraph::store::store_dir(&into)).expect("store");
            let count = count_triples(&store);
            (restored, expected, count)
        })
        .await
        .expect("restore task");
        assert_eq!(restored.events, size);
        assert_eq!(restored.dataset_hash, expected, "backup {k} at size {size}");
        let reply = server
            .get(&format!(
                "/sparql?query={}&asOf={size}",
                encode(COUNT_QUERY)
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let source_count = reply.json()["results"]["bindings"][0]["n"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(restored_count, source_count, "backup {k} at size {size}");
    }
    server.close().await;
}

fn count_triples(store: &GraphStore) -> String {
    use oxigraph::sparql::{QueryResults, SparqlEvaluator};
    let results = SparqlEvaluator::new()
        .parse_query(COUNT_QUERY)
        .expect("query")
        .on_store(store.oxigraph())
        .execute()
        .expect("evaluate");
    let QueryResults::Solutions(mut solutions) = results else {
        panic!("not solutions")
    };
    let solution = solutions.next().expect("one row").expect("row");
    match solution.get("n") {
        Some(oxrdf::Term::Literal(l)) => l.value().to_owned(),
        other => panic!("count: {other:?}"),
    }
}

/// The HTTP paths of both commands: `migrate --server` and `backup --server` against a real
/// server on a local port, then a restore that holds the migration.
#[test]
fn a_running_server_is_migrated_and_backed_up_from_the_command_line() {
    use ledgraph::http::server::{self, ServerConfig};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = ServerConfig::new(data.clone());
    let opened = server::open(&config).expect("open the server state");
    let served = common::served::Served::start(config, opened);
    let url = served.url.clone();
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let migrations = migrations.to_str().expect("utf-8");

    let out = ledgraph(&data, &["migrate", "--server", &url, "--dir", migrations]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with("applied 0001_work_order_priority"),
        "{}",
        stdout(&out)
    );
    let out = ledgraph(&data, &["migrate", "--server", &url, "--dir", migrations]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), "up to date (1 migrations applied)\n");

    let backup_dir = dir.path().join("backup");
    let out = ledgraph(
        &data,
        &[
            "backup",
            backup_dir.to_str().expect("utf-8"),
            "--server",
            &url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    served.stop();

    let into = dir.path().join("restored");
    let restored =
        restore(&backup_dir, &into, Some(&data.join("node.vkey")), None).expect("restore");
    let manifest = read_manifest(&backup_dir);
    assert_eq!(restored.events, manifest.size);
    let ask = "ASK { <https://example.org/plant#wo-1001> <https://example.org/plant#priority> \"normal\" }";
    let out = ledgraph(&into, &["query", ask]);
    assert_eq!(
        stdout(&out).trim(),
        "true",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_trusted_checkpoint_must_be_extended_by_the_backup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (log, _) = common::open(&data, small_segments());
    for t in 0..20 {
        log.append(batch(t * 5, 5)).expect("append");
    }
    let seen = log.checkpoint().note.clone();
    for t in 20..40 {
        log.append(batch(t * 5, 5)).expect("append");
    }
    log.close().expect("close");
    // Another log under the same key that diverged at the start.
    let fork = dir.path().join("fork");
    let (log, _) = common::open(&fork, small_segments());
    for t in 0..20 {
        log.append(batch(10_000 + t * 5, 5)).expect("append");
    }
    let forked = log.checkpoint().note.clone();
    log.close().expect("close");

    let backup_dir = dir.path().join("backup");
    backup(&data, &backup_dir, None).expect("backup");
    let into = dir.path().join("restored");
    let restored = restore(&backup_dir, &into, None, Some(&seen)).expect("extends what was seen");
    assert_eq!(restored.events, 200);

    let into = dir.path().join("restored-fork");
    let error = restore(&backup_dir, &into, None, Some(&forked)).expect_err("a fork");
    assert!(error.downcast_ref::<VerifyFailed>().is_some(), "{error:#}");
    assert!(format!("{error:#}").contains("trusted"), "{error:#}");
    assert!(!into.exists());
}
