//! `ledgraph migrate [--dir migrations] [--server URL]`: applies the pending migrations of a
//! directory in name order, each as one log transaction (see [`crate::store::migration`]).
//!
//! Locally (no `--server`) it opens `--data` like the other commands (the server must be
//! stopped), brings the store up to the log, and appends; SHACL admission does not run there
//! (no shapes are loaded). With `--server` each pending file is POSTed to
//! `/v1/migrations/{name}` (admin token), where admission runs. Either way everything is
//! checked before anything runs: an applied migration whose file changed, or a pending one
//! that sorts before an applied one, stops the command with nothing appended.

use std::path::Path;

use anyhow::Context;
use oxigraph::sparql::CancellationToken;
use serde::Deserialize;

use super::client::{Client, RESPONSE_BYTES_MAX, read_limited};
use super::open_log;
use crate::event::skolem::{DEFAULT_GENID_BASE, Skolemizer};
use crate::event::{ActorKey, Batch};
use crate::keys::{self, OsRandom, RandomSource};
use crate::log::LogError;
use crate::store::migration::{self, Migration};
use crate::store::projection::catch_up;
use crate::store::{GraphStore, ProjectionConfig, store_dir};

/// Default directory of migration files.
pub const DEFAULT_MIGRATIONS_DIR: &str = "migrations";

/// `ledgraph migrate`.
pub fn run(
    data: &Path,
    dir: &Path,
    server: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<()> {
    let migrations = migration::load_dir(dir)
        .with_context(|| format!("reading migrations from {}", dir.display()))?;
    match server {
        Some(server) => run_remote(server, token, &migrations),
        None => run_local(data, &migrations),
    }
}

fn up_to_date(applied: usize) {
    println!("up to date ({applied} migrations applied)");
}

fn run_local(data: &Path, migrations: &[Migration]) -> anyhow::Result<()> {
    if !data.join(keys::VKEY_FILE).exists() {
        anyhow::bail!(
            "{} has no log (no {} found)",
            data.display(),
            keys::VKEY_FILE
        );
    }
    let log = match open_log(data) {
        Err(e) if matches!(e.downcast_ref::<LogError>(), Some(LogError::Locked { .. })) => {
            return Err(e.context(format!(
                "a server holds {}: run migrate with --server URL",
                data.display()
            )));
        }
        other => other?,
    };
    let actor = ActorKey(keys::load_key(data)?.public_key());
    let store = GraphStore::open(&store_dir(data))?;
    let config = ProjectionConfig::default();
    catch_up(log.reader(), &store, &config, &|_, _| {})?;
    let applied = migration::applied(&store)?;
    let pending = migration::plan(&applied, migrations)?;
    if pending.is_empty() {
        up_to_date(applied.len());
        return Ok(log.close()?);
    }
    // Changes and record must fit one batch.
    let changes_max = log.config().batch_events_max.saturating_sub(3);
    for m in pending {
        let mut nonce = [0u8; 16];
        OsRandom.fill(&mut nonce)?;
        let mut skolemizer = Skolemizer::new(DEFAULT_GENID_BASE, nonce);
        let mut changes = migration::migration_delta(
            &store,
            m,
            &mut skolemizer,
            CancellationToken::new(),
            changes_max,
        )?;
        let count = changes.len();
        changes.extend(migration::record(m));
        let ack = log.append(Batch::unsigned(actor, changes))?;
        // The next migration sees this one's changes.
        catch_up(log.reader(), &store, &config, &|_, _| {})?;
        println!(
            "applied {} (sha256 {}): {count} changes, seq {}..{}",
            m.name,
            m.sha256,
            ack.first_seq,
            ack.first_seq + ack.count - 1
        );
    }
    Ok(log.close()?)
}

#[derive(Deserialize)]
struct Listed {
    migrations: Vec<ListedMigration>,
}

#[derive(Deserialize)]
struct ListedMigration {
    name: String,
    sha256: String,
}

#[derive(Deserialize)]
struct Applied {
    status: String,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
}

fn run_remote(server: &str, token: Option<&str>, migrations: &[Migration]) -> anyhow::Result<()> {
    let client = Client::new(server, token)?;
    let listed: Listed = client.get_json("/v1/migrations", &[])?;
    let applied: std::collections::BTreeMap<String, String> = listed
        .migrations
        .into_iter()
        .map(|m| (m.name, m.sha256))
        .collect();
    // The server checks again under its write gate; this refuses before anything is sent.
    let pending = migration::plan(&applied, migrations)?;
    if pending.is_empty() {
        up_to_date(applied.len());
        return Ok(());
    }
    for m in pending {
        let path = format!("/v1/migrations/{}", m.name);
        let mut response = client
            .post(
                &path,
                "application/sparql-update",
                m.text.as_bytes(),
                "application/json",
            )
            .with_context(|| format!("migration {}", m.name))?;
        let body = read_limited(&mut response, RESPONSE_BYTES_MAX)?;
        let answer: Applied = serde_json::from_slice(&body)
            .with_context(|| format!("the answer of POST {path} is not a migration result"))?;
        match (answer.first_seq, answer.last_seq) {
            (Some(first), Some(last)) => println!(
                "applied {} (sha256 {}): seq {first}..{last}",
                m.name, m.sha256
            ),
            _ => println!("{} (sha256 {}): {}", m.name, m.sha256, answer.status),
        }
    }
    Ok(())
}
