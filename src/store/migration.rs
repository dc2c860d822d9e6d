//! Migrations: numbered SPARQL Update files (`migrations/NNNN_name.ru`) applied through the log.
//!
//! A migration is applied as one log transaction: the effective changes of its update
//! ([`super::update_delta`], evaluated on the current state) followed by its record in
//! [`MIGRATIONS_GRAPH`]:
//!
//! ```text
//! <urn:ledgraph:migration:0001_work_order_priority> a lg:Migration ;
//!     lg:migrationName "0001_work_order_priority" ;
//!     lg:sha256 "<hex SHA-256 of the file's bytes>" .
//! ```
//!
//! The record lands in the same transaction as the change, so the two are atomic, signed and
//! replayed together: a rebuilt store knows which migrations it holds. The graph is projected
//! like a user graph but only ledgraph writes it ([`super::is_maintained_graph`]); a migration's
//! own update cannot write it either. [`plan`] compares a directory with the records: applied
//! with the same digest → nothing to do; applied with another digest → [`MigrationError::Edited`]
//! (a migration is never re-run or silently skipped after an edit); pending but named before
//! one already applied → [`MigrationError::OutOfOrder`].
//!
//! This module does not append or serve HTTP: the CLI (local) and the server
//! (`POST /v1/migrations/{name}`) append [`migration_delta`] and [`record`] themselves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oxigraph::sparql::CancellationToken;
use oxrdf::{GraphName, Literal, NamedNode, NamedNodeRef, Quad, Term};
use sha2::{Digest, Sha256};

use super::vocab::{MIGRATION, MIGRATION_NAME, SHA256};
use super::{GraphStore, StoreError, UpdateDataset, UpdateError, update_delta};
use crate::event::Op;
use crate::event::skolem::Skolemizer;

pub use super::MIGRATIONS_GRAPH;

/// Extension of migration files.
pub const MIGRATION_EXTENSION: &str = "ru";
/// Largest migration file.
pub const MIGRATION_BYTES_MAX: usize = 1 << 20;
/// Longest migration name (the file name without `.ru`).
pub const MIGRATION_NAME_BYTES_MAX: usize = 128;
/// Most migration files in one directory.
pub const MIGRATIONS_PER_DIR_MAX: usize = 10_000;
/// Prefix of the node that records a migration: `urn:ledgraph:migration:<name>`.
pub const MIGRATION_PREFIX: &str = "urn:ledgraph:migration:";

/// Why a migration cannot be read, planned or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The name is not `NNNN_name` (digits, `_`, then letters, digits, `_` or `-`).
    #[error("migration name {name:?}: {reason}")]
    Name { name: String, reason: String },
    #[error("migration {name}: {reason}")]
    Invalid { name: String, reason: String },
    /// Applied with another digest: the file changed after it was applied.
    #[error(
        "migration {name} was applied with sha256 {applied} but the file now has sha256 {file}: applied migrations must not be edited; add a new migration instead"
    )]
    Edited {
        name: String,
        applied: String,
        file: String,
    },
    /// Pending, but a migration named after it is applied already.
    #[error(
        "migration {name} is pending but {later}, which sorts after it, is already applied: rename it to sort last"
    )]
    OutOfOrder { name: String, later: String },
    #[error("migration {name}: {source}")]
    Update { name: String, source: UpdateError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One migration file: its name (the file stem), text and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub name: String,
    pub text: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}

impl Migration {
    /// Checks the name and the bytes (UTF-8, at most [`MIGRATION_BYTES_MAX`]).
    pub fn new(name: &str, bytes: &[u8]) -> Result<Self, MigrationError> {
        check_name(name)?;
        let invalid = |reason: String| MigrationError::Invalid {
            name: name.to_owned(),
            reason,
        };
        if bytes.len() > MIGRATION_BYTES_MAX {
            return Err(invalid(format!(
                "{} bytes; the limit is {MIGRATION_BYTES_MAX}",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| invalid(format!("not UTF-8: {e}")))?
            .to_owned();
        Ok(Migration {
            name: name.to_owned(),
            text,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// The node of its record.
    pub fn node(&self) -> NamedNode {
        NamedNode::new_unchecked(format!("{MIGRATION_PREFIX}{}", self.name))
    }
}

/// `NNNN_name`: ASCII digits, `_`, then at least one of `[A-Za-z0-9_-]` (so it is safe in an
/// IRI and a URL path, and sorts by number when the numbers have the same width).
pub fn check_name(name: &str) -> Result<(), MigrationError> {
    let fail = |reason: &str| {
        Err(MigrationError::Name {
            name: name.chars().take(MIGRATION_NAME_BYTES_MAX).collect(),
            reason: reason.to_owned(),
        })
    };
    if name.len() > MIGRATION_NAME_BYTES_MAX {
        return fail("too long");
    }
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &name[digits..];
    let Some(label) = rest.strip_prefix('_') else {
        return fail("expected NNNN_name (digits, an underscore, a name)");
    };
    if digits == 0 || label.is_empty() {
        return fail("expected NNNN_name (digits, an underscore, a name)");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return fail("the name after the number may use only letters, digits, _ and -");
    }
    Ok(())
}

/// The `*.ru` files of `dir`, sorted by name. Other files are ignored; a `.ru` file with a bad
/// name is an error (it would otherwise never run).
pub fn load_dir(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let io = |path: &Path, source| MigrationError::Io {
        path: path.to_owned(),
        source,
    };
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(MIGRATION_EXTENSION) {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            return Err(MigrationError::Name {
                name: path.display().to_string(),
                reason: "not UTF-8".into(),
            });
        };
        if migrations.len() == MIGRATIONS_PER_DIR_MAX {
            return Err(MigrationError::Invalid {
                name: dir.display().to_string(),
                reason: format!("more than {MIGRATIONS_PER_DIR_MAX} migrations"),
            });
        }
        let metadata = std::fs::metadata(&path).map_err(|e| io(&path, e))?;
        if metadata.len() > MIGRATION_BYTES_MAX as u64 {
            return Err(MigrationError::Invalid {
                name: name.to_owned(),
                reason: format!(
                    "{} bytes; the limit is {MIGRATION_BYTES_MAX}",
                    metadata.len()
                ),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        migrations.push(Migration::new(name, &bytes)?);
    }
    migrations.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(migrations)
}

/// Applied migrations recorded in the store: name → hex SHA-256.
pub fn applied(store: &GraphStore) -> Result<BTreeMap<String, String>, MigrationError> {
    let graph = NamedNodeRef::new_unchecked(MIGRATIONS_GRAPH);
    let mut applied = BTreeMap::new();
    for quad in store
        .oxigraph()
        .quads_for_pattern(None, Some(SHA256), None, Some(graph.into()))
    {
        let quad = quad.map_err(|e| store.storage_error(e))?;
        let name = match &quad.subject {
            oxrdf::NamedOrBlankNode::NamedNode(n) => n.as_str().strip_prefix(MIGRATION_PREFIX),
            _ => None,
        };
        let (Some(name), Term::Literal(digest)) = (name, &quad.object) else {
            return Err(store
                .corruption(format!("unexpected migration record {quad}"))
                .into());
        };
        applied.insert(name.to_owned(), digest.value().to_owned());
    }
    Ok(applied)
}

/// Whether a migration still has to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Applied,
}

/// The status of `migration` given the `applied` records (see the module doc).
pub fn status(
    applied: &BTreeMap<String, String>,
    migration: &Migration,
) -> Result<Status, MigrationError> {
    if let Some(digest) = applied.get(&migration.name) {
        if *digest != migration.sha256 {
            return Err(MigrationError::Edited {
                name: migration.name.clone(),
                applied: digest.clone(),
                file: migration.sha256.clone(),
            });
        }
        return Ok(Status::Applied);
    }
    if let Some((later, _)) = applied.range(migration.name.clone()..).next() {
        return Err(MigrationError::OutOfOrder {
            name: migration.name.clone(),
            later: later.clone(),
        });
    }
    Ok(Status::Pending)
}

/// The pending migrations of `migrations` (sorted), in order; fails on the first edited or
/// out-of-order one before anything runs.
pub fn plan<'a>(
    applied: &BTreeMap<String, String>,
    migrations: &'a [Migration],
) -> Result<Vec<&'a Migration>, MigrationError> {
    let mut pending = Vec::new();
    for m in migrations {
        if status(applied, m)? == Status::Pending {
            pending.push(m);
        }
    }
    Ok(pending)
}

/// The effective changes of `migration` on the current state of `store`. The caller appends
/// them followed by [`record`] as one batch, while nothing else writes.
pub fn migration_delta(
    store: &GraphStore,
    migration: &Migration,
    skolemizer: &mut Skolemizer,
    cancel: CancellationToken,
    changes_max: usize,
) -> Result<Vec<(Op, Quad)>, MigrationError> {
    update_delta(
        store,
        &migration.text,
        None,
        &UpdateDataset::default(),
        skolemizer,
        cancel,
        changes_max,
    )
    .map_err(|source| MigrationError::Update {
        name: migration.name.clone(),
        source,
    })
}

/// The events recording that `migration` was applied.
pub fn record(migration: &Migration) -> Vec<(Op, Quad)> {
    let graph = GraphName::NamedNode(NamedNode::new_unchecked(MIGRATIONS_GRAPH));
    let node = migration.node();
    [
        Quad::new(
            node.clone(),
            oxrdf::vocab::rdf::TYPE,
            MIGRATION.into_owned(),
            graph.clone(),
        ),
        Quad::new(
            node.clone(),
            MIGRATION_NAME.into_owned(),
            Literal::new_simple_literal(&migration.name),
            graph.clone(),
        ),
        Quad::new(
            node,
            SHA256.into_owned(),
            Literal::new_simple_literal(&migration.sha256),
            graph,
        ),
    ]
    .into_iter()
    .map(|q| (Op::Add, q))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_number_underscore_label() {
        for good in ["0001_a", "1_x-y", "0042_work_order_priority"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "", "0001", "0001_", "_a", "a_b", "0001_a b", "0001_a/b", "0001_é",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_graph_ledgraph_writes_itself_is_maintained() {
        use oxrdf::NamedNodeRef as N;
        for graph in [
            MIGRATIONS_GRAPH,
            crate::shapes::SHAPES_GRAPH,
            super::super::EVENT_GRAPH,
            super::super::META_GRAPH,
        ] {
            assert!(
                super::super::is_maintained_graph(N::new_unchecked(graph).into()),
                "{graph}"
            );
        }
        assert!(!super::super::is_maintained_graph(
            N::new_unchecked("urn:ledgraph:other").into()
        ));
    }

    fn m(name: &str, text: &str) -> Migration {
        Migration::new(name, text.as_bytes()).expect("valid migration")
    }

    #[test]
    fn plan_skips_applied_refuses_edited_and_out_of_order() {
        let one = m("0001_a", "INSERT DATA { <urn:a> <urn:b> 1 }");
        let two = m("0002_b", "INSERT DATA { <urn:a> <urn:b> 2 }");
        let mut applied = BTreeMap::new();
        let all = [one.clone(), two.clone()];
        assert_eq!(plan(&applied, &all).expect("plan").len(), 2);
        applied.insert(one.name.clone(), one.sha256.clone());
        let pending = plan(&applied, &all).expect("plan");
        assert_eq!(pending, vec![&two]);
        let edited = m("0001_a", "INSERT DATA { <urn:a> <urn:b> 3 }");
        assert!(matches!(
            plan(&applied, &[edited, two.clone()]),
            Err(MigrationError::Edited { name, .. }) if name == "0001_a"
        ));
        let mut later = BTreeMap::new();
        later.insert(two.name.clone(), two.sha256.clone());
        assert!(matches!(
            plan(&later, &all),
            Err(MigrationError::OutOfOrder { name, later }) if name == "0001_a" && later == "0002_b"
        ));
    }
}
