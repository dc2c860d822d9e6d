//! Helpers shared by the integration tests: data directories, keys, events.
#![allow(dead_code)]

pub mod cli;
pub mod http;
pub mod served;
pub mod sparql;
pub mod sse;
pub mod web;

use std::path::Path;
use std::sync::Arc;

use ledgraph::event::hlc::{Clock, SystemClock};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::keys::NodeKey;
use ledgraph::log::{Log, LogConfig, RecoveryReport};
use oxrdf::{GraphName, Literal, NamedNode, Quad};

pub const KEY_NAME: &str = "test.local/log";

/// The node key every test uses (deterministic).
pub fn node_key() -> NodeKey {
    NodeKey::from_seed(KEY_NAME, [42u8; 32]).expect("valid test key")
}

/// A publisher key distinct from the node's.
pub fn publisher_key() -> NodeKey {
    NodeKey::from_seed("publisher.test", [7u8; 32]).expect("valid publisher key")
}

/// Writes node.key / node.vkey into `data` like `keygen` does.
pub fn write_keys(data: &Path) {
    std::fs::create_dir_all(data).expect("create data dir");
    let key = node_key();
    std::fs::write(
        data.join(ledgraph::keys::SKEY_FILE),
        format!("{}\n", key.to_skey()),
    )
    .expect("write skey");
    std::fs::write(
        data.join(ledgraph::keys::VKEY_FILE),
        format!("{}\n", key.verifier().to_vkey()),
    )
    .expect("write vkey");
}

pub fn open(data: &Path, config: LogConfig) -> (Log, RecoveryReport) {
    open_with_clock(data, config, Arc::new(SystemClock))
}

pub fn open_with_clock(
    data: &Path,
    config: LogConfig,
    clock: Arc<dyn Clock>,
) -> (Log, RecoveryReport) {
    write_keys(data);
    Log::open(data, node_key(), config, clock).expect("open log")
}

/// A ~200-byte quad, distinct for every `i`.
pub fn quad(i: u64) -> Quad {
    Quad::new(
        NamedNode::new_unchecked(format!("https://example.org/plant/sensor/{i:08}")),
        NamedNode::new_unchecked("https://example.org/plant#reading"),
        Literal::new_typed_literal(
            format!("{}.5", i % 1000),
            NamedNode::new_unchecked("http://www.w3.org/2001/XMLSchema#decimal"),
        ),
        GraphName::DefaultGraph,
    )
}

/// An unsigned batch of `n` adds starting at quad `start`, by the node key.
pub fn batch(start: u64, n: u64) -> Batch {
    let actor = ActorKey(node_key().public_key());
    Batch::unsigned(
        actor,
        (start..start + n).map(|i| (Op::Add, quad(i))).collect(),
    )
}

/// A small config so that tests cross segment boundaries.
pub fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes_max: 4096,
        ..LogConfig::default()
    }
}

/// Every regular file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    for file in files_under(from) {
        let rel = file.strip_prefix(from).expect("under from");
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&file, &dest).expect("copy");
    }
}

/// A small seeded PRNG (xorshift64*) so randomized tests can print and replay their seed.
pub struct Rng(u64);

impl Rng {
    /// Seeds from `LEDGRAPH_TEST_SEED` if set, else from the clock; prints the seed.
    pub fn from_env(test: &str) -> Self {
        let seed = std::env::var("LEDGRAPH_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{test}: seed {seed} (replay with LEDGRAPH_TEST_SEED={seed})");
        Rng(seed.max(1))
    }

    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}
