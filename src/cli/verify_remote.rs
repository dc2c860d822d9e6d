//! `ledgraph verify-remote URL`: audits a server's log from outside, trusting nothing it says.
//!
//! 1. The checkpoint (`/v1/log/checkpoint`, a C2SP signed note) must carry a valid signature by
//!    the log key — pinned with `--vkey FILE`, or else fetched from `/v1/log/vkey` (trust on
//!    first use: a pinned key or a trusted checkpoint is what makes the audit meaningful).
//! 2. `--samples N` events (chosen at random, always including the newest) must be provably in
//!    the checkpoint's tree: each inclusion proof is checked against the *checkpoint's* root,
//!    and the event's canonical bytes from `/v1/log/entries` must hash to the proven leaf and
//!    decode as a canonical event.
//! 3. With `--trusted-checkpoint FILE` (a checkpoint seen earlier, e.g. saved with `--save`),
//!    the new checkpoint must extend it: a consistency proof for a larger tree, the same root
//!    for the same size, and never a smaller tree (a rollback).
//!
//! Any failed signature, proof or hash is a [`VerifyFailed`] (exit code 3); not being able to
//! reach the server or read its answers is an ordinary error (exit code 1). What it does not
//! do: download and re-hash the whole log (that is `ledgraph log verify` on a copy).

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;

use super::client::Client;
use crate::keys::{self, RandomSource, Verifier};
use crate::log::checkpoint::{NOTE_BYTES_MAX, SignedCheckpoint};
use crate::log::merkle::{self, HASH_BYTES, Hash};

/// Upper bound of `--samples`, in inclusion proofs.
pub const VERIFY_SAMPLES_MAX: u64 = 10_000;
/// Largest verifier key answer read, in bytes.
const VKEY_BYTES_MAX: u64 = 4_096;

/// The server's log failed a check: a signature, a proof or a hash does not hold.
#[derive(Debug, thiserror::Error)]
#[error("verification failed: {0}")]
pub struct VerifyFailed(pub String);

pub(crate) fn failed(message: impl Into<String>) -> anyhow::Error {
    VerifyFailed(message.into()).into()
}

/// What `verify-remote` is asked to do.
#[derive(Debug, Default)]
pub struct VerifyRemoteOptions<'a> {
    pub trusted_checkpoint: Option<&'a Path>,
    pub vkey: Option<&'a Path>,
    pub samples: u64,
    pub save: Option<&'a Path>,
    pub token: Option<&'a str>,
}

#[derive(Deserialize)]
struct InclusionJson {
    index: u64,
    size: u64,
    leaf_hash: String,
    hashes: Vec<String>,
    root: String,
}

#[derive(Deserialize)]
struct ConsistencyJson {
    from: u64,
    to: u64,
    hashes: Vec<String>,
    from_root: String,
}

#[derive(Deserialize)]
struct EntriesJson {
    entries: Vec<EntryJson>,
}

#[derive(Deserialize)]
struct EntryJson {
    seq: u64,
    entry: String,
}

/// Runs the audit and prints one `ok:` line per check that passed.
pub fn verify_remote(server: &str, options: &VerifyRemoteOptions<'_>) -> anyhow::Result<()> {
    if options.samples > VERIFY_SAMPLES_MAX {
        anyhow::bail!("--samples {} exceeds {VERIFY_SAMPLES_MAX}", options.samples);
    }
    let client = Client::new(server, options.token)?;
    let verifier = verifier(&client, options.vkey)?;
    let note = client.get_text("/v1/log/checkpoint", NOTE_BYTES_MAX as u64)?;
    let signed = SignedCheckpoint::verify(&note, &verifier)
        .map_err(|e| failed(format!("the server's checkpoint: {e}")))?;
    let (size, root) = (signed.checkpoint.size, signed.checkpoint.root);
    println!(
        "ok: checkpoint of {} signed by its key: size {size}, root {}",
        signed.checkpoint.origin,
        hex::encode(root)
    );

    let samples = sample_seqs(size, options.samples)?;
    for &seq in &samples {
        check_inclusion(&client, seq, size, &root)?;
    }
    if !samples.is_empty() {
        println!(
            "ok: {} events proven in the tree of {size}, their entries hash to the proven leaves",
            samples.len()
        );
    }

    if let Some(path) = options.trusted_checkpoint {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let trusted = SignedCheckpoint::verify(&text, &verifier).map_err(|e| {
            failed(format!(
                "the trusted checkpoint {} does not verify with the log key: {e}",
                path.display()
            ))
        })?;
        check_extends(&client, &trusted, size, &root)?;
        println!(
            "ok: the checkpoint extends the trusted checkpoint of size {}",
            trusted.checkpoint.size
        );
    }

    if let Some(path) = options.save {
        save_note(path, &note)?;
        println!("saved the checkpoint to {}", path.display());
    }
    Ok(())
}

/// The log's verifier key: the pinned file, or else the one the server names (trust on first
/// use, with a note on stderr).
pub(crate) fn verifier(client: &Client, vkey: Option<&Path>) -> anyhow::Result<Verifier> {
    let (text, source) = match vkey {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        None => {
            eprintln!("note: using the key the server names (pass --vkey FILE to pin it)");
            (
                client.get_text("/v1/log/vkey", VKEY_BYTES_MAX)?,
                "/v1/log/vkey".to_owned(),
            )
        }
    };
    keys::Verifier::parse_vkey(text.trim()).map_err(|e| anyhow::anyhow!("{source}: {e}"))
}

/// `count` distinct event numbers below `size`, always with the newest, at random otherwise.
fn sample_seqs(size: u64, count: u64) -> anyhow::Result<BTreeSet<u64>> {
    if count >= size {
        return Ok((0..size).collect());
    }
    let mut seqs = BTreeSet::new();
    if count > 0 {
        seqs.insert(size - 1);
    }
    let mut random = keys::OsRandom;
    while (seqs.len() as u64) < count {
        let mut bytes = [0u8; 8];
        random.fill(&mut bytes)?;
        seqs.insert(u64::from_le_bytes(bytes) % size);
    }
    Ok(seqs)
}

fn hash(field: &str, b64: &str) -> anyhow::Result<Hash> {
    let bytes = B64
        .decode(b64)
        .map_err(|e| anyhow::anyhow!("{field} is not base64: {e}"))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{field} has {len} bytes, expected {HASH_BYTES}"))
}

fn hashes(field: &str, list: &[String]) -> anyhow::Result<Vec<Hash>> {
    list.iter().map(|h| hash(field, h)).collect()
}

/// Proves event `seq` in the tree of `size` with root `root` (the signed checkpoint's), checks
/// that its entry hashes to the proven leaf, and returns the decoded event.
pub(crate) fn check_inclusion(
    client: &Client,
    seq: u64,
    size: u64,
    root: &Hash,
) -> anyhow::Result<crate::event::Event> {
    let proof: InclusionJson = client.get_json(
        "/v1/log/proof/inclusion",
        &[("seq", seq.to_string()), ("size", size.to_string())],
    )?;
    if (proof.index, proof.size) != (seq, size) {
        return Err(failed(format!(
            "asked to prove event {seq} in the tree of {size}, the server proved {} in {}",
            proof.index, proof.size
        )));
    }
    if hash("root", &proof.root)? != *root {
        return Err(failed(format!(
            "the inclusion proof of event {seq} is for a root other than the checkpoint's"
        )));
    }
    let leaf = hash("leaf_hash", &proof.leaf_hash)?;
    let path = hashes("hashes", &proof.hashes)?;
    merkle::verify_inclusion(&leaf, seq, size, &path, root)
        .map_err(|e| failed(format!("inclusion proof of event {seq}: {e}")))?;

    let page: EntriesJson = client.get_json(
        "/v1/log/entries",
        &[("from", seq.to_string()), ("limit", "1".to_owned())],
    )?;
    let Some(entry) = page.entries.into_iter().find(|e| e.seq == seq) else {
        return Err(failed(format!("the server did not return event {seq}")));
    };
    let bytes = B64
        .decode(&entry.entry)
        .map_err(|e| anyhow::anyhow!("the entry of event {seq} is not base64: {e}"))?;
    if merkle::leaf_hash(&bytes) != leaf {
        return Err(failed(format!(
            "event {seq}: SHA-256(0x00 ‖ entry) is not the proven leaf hash"
        )));
    }
    crate::event::decode_event(&bytes)
        .map_err(|e| failed(format!("event {seq} is not a canonical event: {e}")))
}

fn check_extends(
    client: &Client,
    trusted: &SignedCheckpoint,
    size: u64,
    root: &Hash,
) -> anyhow::Result<()> {
    let (old_size, old_root) = (trusted.checkpoint.size, trusted.checkpoint.root);
    if old_size > size {
        return Err(failed(format!(
            "the server's checkpoint (size {size}) is smaller than the trusted one (size {old_size}): the log was rolled back"
        )));
    }
    if old_size == size {
        if old_root != *root {
            return Err(failed(format!(
                "two checkpoints of size {size} with different roots: the log forked"
            )));
        }
        return Ok(());
    }
    if old_size == 0 {
        // Every tree extends the empty one.
        return Ok(());
    }
    let proof: ConsistencyJson = client.get_json(
        "/v1/log/proof/consistency",
        &[("from", old_size.to_string()), ("to", size.to_string())],
    )?;
    if (proof.from, proof.to) != (old_size, size) {
        return Err(failed(format!(
            "asked for consistency {old_size}→{size}, the server proved {}→{}",
            proof.from, proof.to
        )));
    }
    // The proof is checked against the two signed roots; the roots the server claims only
    // sharpen the message when it fails.
    let path = hashes("hashes", &proof.hashes)?;
    let server_old_root = hash("from_root", &proof.from_root)?;
    merkle::verify_consistency(old_size, size, &path, &old_root, root).map_err(|e| {
        let why = if server_old_root != old_root {
            format!(
                "the server's tree of size {old_size} has another root than the trusted checkpoint: the log forked"
            )
        } else {
            e.to_string()
        };
        failed(format!(
            "the checkpoint of size {size} does not extend the trusted one of size {old_size}: {why}"
        ))
    })
}

/// Writes the note next to `path` and renames it over, so a crash never leaves half a note.
fn save_note(path: &Path, note: &str) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, note).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_in_range_and_include_the_newest() {
        let seqs = sample_seqs(1_000, 10).unwrap();
        assert_eq!(seqs.len(), 10);
        assert!(seqs.contains(&999));
        assert!(seqs.iter().all(|s| *s < 1_000));
        assert_eq!(sample_seqs(5, 10).unwrap().len(), 5, "capped at the size");
        assert!(sample_seqs(0, 3).unwrap().is_empty());
        assert!(sample_seqs(100, 0).unwrap().is_empty());
    }
}
