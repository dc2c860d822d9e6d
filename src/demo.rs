//! The demo ontologies, compiled into the binary so `ledgraph demo` and a first `ledgraph serve`
//! work from any directory, and the one function that appends them to a fresh log.

use std::path::Path;

use crate::event::input::{InputError, parse_turtle};
use crate::event::skolem::{DEFAULT_GENID_BASE, Skolemizer};
use crate::event::{ActorKey, Batch};
use crate::keys::{KeyError, OsRandom, RandomSource};
use crate::log::{Ack, Log, LogError};

/// The platform vocabulary.
pub const PLATFORM_ONTOLOGY: &str = include_str!("../ontology/ledgraph.ttl");
/// The demo domain (sensors, assets, maintenance).
pub const DEMO_ONTOLOGY: &str = include_str!("../ontology/demo.ttl");

/// The demo files, by the name they have under `ontology/`.
pub const DEMO_FILES: &[(&str, &str)] = &[
    ("ledgraph.ttl", PLATFORM_ONTOLOGY),
    ("demo.ttl", DEMO_ONTOLOGY),
];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    #[error("ontology/{file}: {source}")]
    Input {
        file: &'static str,
        source: InputError,
    },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Appends each demo ontology as one transaction by `actor`; returns the acknowledgements in
/// file order. The caller decides when (ledgraph appends them only to an empty log).
pub fn append_demo_ontologies(
    log: &Log,
    actor: ActorKey,
) -> Result<Vec<(&'static str, Ack)>, SeedError> {
    let mut acks = Vec::new();
    for &(file, text) in DEMO_FILES {
        let changes =
            parse_turtle(text.as_bytes()).map_err(|source| SeedError::Input { file, source })?;
        let mut nonce = [0u8; 16];
        OsRandom.fill(&mut nonce)?;
        let changes = Skolemizer::new(DEFAULT_GENID_BASE, nonce).changes(changes);
        acks.push((file, log.append(Batch::unsigned(actor, changes))?));
    }
    Ok(acks)
}

/// Whether `data` looks like a data directory ledgraph created.
pub fn is_data_dir(data: &Path) -> bool {
    data.join(crate::keys::VKEY_FILE).exists()
}
