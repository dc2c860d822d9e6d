//! `ledgraph backup DIR` and `ledgraph restore BACKUP --into DATA`.
//!
//! A backup is a data directory holding only what cannot be rebuilt — the keys and a
//! consistent prefix of the log ([`crate::log::backup::copy_prefix`]), cut at one signed
//! checkpoint — plus `manifest.json` (the checkpoint, and each file's size and SHA-256). It can
//! be taken while a server appends: the files are read, never locked, and the cut is the
//! latest *stored* checkpoint (at most ~1 s old under load), or with `--server` the server's
//! current one. The backup holds `node.key`, the node's signing key: keep it as secret as the
//! data directory.
//!
//! Restore trusts nothing in the backup but the verifier key (`--vkey` pins it): the manifest
//! must match the files, the manifest's checkpoint must carry a valid signature, and the full
//! log verification ([`verify_log`]) must recompute exactly that checkpoint's root at exactly
//! its size. Any failure — one flipped byte anywhere, a missing or truncated file, a file too
//! many — refuses the backup (exit code 3) and writes nothing. Then the files are copied into
//! an empty directory, the log is opened (rebuilding its index and tree) and the store is
//! replayed from it, state and event graph; if that fails, the directory is emptied again.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::verify_remote::VerifyFailed;
use super::{open_log, progress_bar};
use crate::keys::{self, Verifier};
use crate::log::backup::copy_prefix;
use crate::log::checkpoint_store;
use crate::log::verify::{VerifyOptions, VerifyReport, verify_log};
use crate::log::{SignedCheckpoint, log_dir};
use crate::store::replay::{ReplayOptions, replay_from};
use crate::store::{GraphStore, store_dir};

/// The manifest's file name inside a backup.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest format this build writes and reads.
pub const MANIFEST_FORMAT: &str = "ledgraph-backup/1";
/// Largest manifest read.
pub const MANIFEST_BYTES_MAX: u64 = 16 << 20;
/// Most files one backup may list.
pub const BACKUP_FILES_MAX: usize = 1 << 20;
/// Largest checkpoint note fetched from a server.
const CHECKPOINT_BYTES_MAX: u64 = 64 << 10;

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    /// The log's origin (the node key's name).
    pub origin: String,
    /// Events in the backup: the checkpoint's size.
    pub size: u64,
    /// The checkpoint's root, base64.
    pub root: String,
    /// The signed checkpoint the log was cut at (C2SP signed note).
    pub checkpoint: String,
    /// Whether `node.key` (the signing key) is in the backup.
    pub contains_signing_key: bool,
    pub files: Vec<ManifestFile>,
}

/// One file of a backup, relative to its directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    pub bytes: u64,
    /// Hex SHA-256.
    pub sha256: String,
}

/// `ledgraph backup DIR [--server URL]`: backs up `data` into `into`; prints a summary.
pub fn run_backup(
    data: &Path,
    into: &Path,
    server: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<()> {
    let note = match server {
        Some(server) => Some(
            super::client::Client::new(server, token)?
                .get_text("/v1/log/checkpoint", CHECKPOINT_BYTES_MAX)?,
        ),
        None => None,
    };
    let manifest = backup(data, into, note.as_deref())?;
    let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    println!(
        "backed up {} events ({} files, {bytes} bytes) into {}; root {}",
        manifest.size,
        manifest.files.len(),
        into.display(),
        manifest.root
    );
    eprintln!(
        "note: the backup contains {}, the node's signing key: keep it secret",
        keys::SKEY_FILE
    );
    Ok(())
}

/// Backs up the log of `data` at `checkpoint_note` (default: its latest stored checkpoint)
/// into the empty or absent directory `into`, and verifies the result.
pub fn backup(data: &Path, into: &Path, checkpoint_note: Option<&str>) -> anyhow::Result<Manifest> {
    check_empty(into)?;
    let verifier = keys::load_verifier(data)?;
    let checkpoint = match checkpoint_note {
        Some(note) => SignedCheckpoint::verify(note, &verifier).with_context(|| {
            format!(
                "the server's checkpoint does not verify with {}",
                data.join(keys::VKEY_FILE).display()
            )
        })?,
        None => checkpoint_store::load(&log_dir(data), &verifier)?
            .checkpoints
            .pop()
            .with_context(|| format!("{} holds no signed checkpoint yet", data.display()))?,
    };
    std::fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
    let mut files: Vec<ManifestFile> = copy_prefix(data, into, &checkpoint)?
        .into_iter()
        .map(|f| ManifestFile {
            path: f.path.to_string_lossy().into_owned(),
            bytes: f.bytes,
            sha256: hex::encode(f.sha256),
        })
        .collect();
    let mut contains_signing_key = false;
    for name in [keys::VKEY_FILE, keys::SKEY_FILE] {
        let from = data.join(name);
        if name == keys::SKEY_FILE && !from.exists() {
            continue;
        }
        let bytes = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        write_new(&into.join(name), &bytes, name == keys::SKEY_FILE)?;
        files.push(manifest_file(name, &bytes));
        contains_signing_key |= name == keys::SKEY_FILE;
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        origin: checkpoint.checkpoint.origin.clone(),
        size: checkpoint.checkpoint.size,
        root: B64.encode(checkpoint.checkpoint.root),
        checkpoint: checkpoint.note.clone(),
        contains_signing_key,
        files,
    };
    // A backup nobody verified is not a backup.
    check_backup(into, &manifest, &verifier, None)
        .map_err(|reason| anyhow::anyhow!("the new backup does not verify: {reason}"))?;
    let text = serde_json::to_vec_pretty(&manifest)?;
    write_new(&into.join(MANIFEST_FILE), &text, false)?;
    Ok(manifest)
}

fn manifest_file(path: &str, bytes: &[u8]) -> ManifestFile {
    ManifestFile {
        path: path.to_owned(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

/// Writes a new file (never replacing one) and makes it durable; `secret` files get mode 0600.
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Size and hex SHA-256 of a file, read in chunks.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// Copies `from` to the new file `to` (permissions included, so `node.key` stays 0600) and
/// makes it durable.
fn copy_new(from: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        bail!("{} exists already", to.display());
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", to.display()))
}

/// `into` must be absent or an empty directory.
fn check_empty(into: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(into) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{} is not empty; choose a new directory", into.display());
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {}", into.display())),
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub events: u64,
    pub root: [u8; 32],
    /// The restored store's dataset hash.
    pub dataset_hash: [u8; 32],
}

/// `ledgraph restore BACKUP --into DATA [--vkey FILE]`.
pub fn run_restore(
    backup: &Path,
    into: &Path,
    vkey: Option<&Path>,
    trusted_checkpoint: Option<&Path>,
) -> anyhow::Result<()> {
    let trusted = match trusted_checkpoint {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    let restored = restore(backup, into, vkey, trusted.as_deref())?;
    println!(
        "restored {} events into {} (root {}); dataset hash {}",
        restored.events,
        into.display(),
        B64.encode(restored.root),
        hex::encode(restored.dataset_hash)
    );
    Ok(())
}

/// Verifies `backup` (see the module doc), then restores it into the empty or absent `into`.
/// With `trusted_checkpoint` (a signed note seen earlier) the backup's log must also extend
/// it. A backup that does not verify is a [`VerifyFailed`] (exit code 3).
pub fn restore(
    backup: &Path,
    into: &Path,
    vkey: Option<&Path>,
    trusted_checkpoint: Option<&str>,
) -> anyhow::Result<Restored> {
    check_empty(into)?;
    let refused = |reason: String| -> anyhow::Error {
        VerifyFailed(format!(
            "the backup {} is refused: {reason}",
            backup.display()
        ))
        .into()
    };
    let manifest = read_manifest(backup).map_err(refused)?;
    let verifier = backup_verifier(backup, vkey).map_err(refused)?;
    let report = check_backup(backup, &manifest, &verifier, trusted_checkpoint).map_err(refused)?;
    let existed = into.exists();
    let restored = restore_verified(backup, into, &manifest);
    if restored.is_err() {
        // `into` was absent or empty: everything in it is ours. Leave it as it was, so the
        // restore can simply be run again.
        let _ = std::fs::remove_dir_all(into);
        if existed {
            let _ = std::fs::create_dir(into);
        }
    }
    let dataset_hash = restored?;
    Ok(Restored {
        events: report.events,
        root: report.root,
        dataset_hash,
    })
}

/// Copies a verified backup into `into` and rebuilds the store; returns its dataset hash.
fn restore_verified(backup: &Path, into: &Path, manifest: &Manifest) -> anyhow::Result<[u8; 32]> {
    std::fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
    for file in &manifest.files {
        let to = into.join(&file.path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        copy_new(&backup.join(&file.path), &to)?;
    }
    let log = open_log(into)?;
    let bar = progress_bar(log.size(), "replaying");
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let options = ReplayOptions {
        to: None,
        event_graph: true,
    };
    replay_from(&log, &store_dir(into), options, &progress)?;
    bar.finish_and_clear();
    log.close()?;
    Ok(GraphStore::open_read_only(&store_dir(into))?.dataset_hash()?)
}

fn read_manifest(backup: &Path) -> Result<Manifest, String> {
    let path = backup.join(MANIFEST_FILE);
    let len = std::fs::metadata(&path)
        .map_err(|e| format!("no readable {MANIFEST_FILE}: {e}"))?
        .len();
    if len > MANIFEST_BYTES_MAX {
        return Err(format!(
            "{MANIFEST_FILE} has {len} bytes; the limit is {MANIFEST_BYTES_MAX}"
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{MANIFEST_FILE}: {e}"))?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST_FILE}: {e}"))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(format!(
            "{MANIFEST_FILE}: format {:?}, expected {MANIFEST_FORMAT:?}",
            manifest.format
        ));
    }
    if manifest.files.len() > BACKUP_FILES_MAX {
        return Err(format!(
            "{MANIFEST_FILE} lists over {BACKUP_FILES_MAX} files"
        ));
    }
    Ok(manifest)
}

/// The backup's verifier key, which must equal the pinned one when given.
fn backup_verifier(backup: &Path, pinned: Option<&Path>) -> Result<Verifier, String> {
    let found = keys::load_verifier(backup).map_err(|e| e.to_string())?;
    if let Some(path) = pinned {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let pinned =
            Verifier::parse_vkey(text.trim()).map_err(|e| format!("{}: {e}", path.display()))?;
        if pinned != found {
            return Err(format!(
                "its {} is not the verifier key {}",
                keys::VKEY_FILE,
                path.display()
            ));
        }
    }
    Ok(found)
}

/// Every check restore makes before writing anything; the reason when one fails.
fn check_backup(
    backup: &Path,
    manifest: &Manifest,
    verifier: &Verifier,
    trusted_checkpoint: Option<&str>,
) -> Result<VerifyReport, String> {
    check_files(backup, manifest)?;
    let checkpoint = SignedCheckpoint::verify(&manifest.checkpoint, verifier)
        .map_err(|e| format!("its checkpoint does not verify: {e}"))?;
    let cp = &checkpoint.checkpoint;
    if cp.size != manifest.size || B64.encode(cp.root) != manifest.root {
        return Err("the manifest's size or root differs from its signed checkpoint".into());
    }
    // The backup's own checkpoints file must end with that checkpoint, whole.
    let stored = checkpoint_store::load(&log_dir(backup), verifier)
        .map_err(|e| format!("its checkpoints do not verify: {e}"))?;
    if stored.torn.is_some() || stored.checkpoints.last() != Some(&checkpoint) {
        return Err("its checkpoints file does not end with the manifest's checkpoint".into());
    }
    let options = VerifyOptions {
        trusted_checkpoint,
        ..VerifyOptions::default()
    };
    let report = verify_log(backup, verifier, &options)
        .map_err(|e| format!("the log does not verify: {e}"))?;
    if report.torn_tail_bytes > 0 {
        return Err(format!(
            "the log ends in {} bytes of an incomplete transaction",
            report.torn_tail_bytes
        ));
    }
    if report.events != cp.size || report.root != cp.root {
        return Err(format!(
            "the log holds {} events whose root is not the signed checkpoint's (size {})",
            report.events, cp.size
        ));
    }
    Ok(report)
}

/// The manifest lists exactly the backup's files, each with its size and SHA-256, and at
/// least the verifier key, the checkpoints and segment 0.
fn check_files(backup: &Path, manifest: &Manifest) -> Result<(), String> {
    let mut listed = std::collections::BTreeSet::new();
    for file in &manifest.files {
        let relative = Path::new(&file.path);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(format!(
                "the manifest names a path outside the backup: {:?}",
                file.path
            ));
        }
        if !listed.insert(relative.to_owned()) {
            return Err(format!("the manifest lists {} twice", file.path));
        }
        let path = backup.join(relative);
        let (bytes, sha256) = hash_file(&path).map_err(|e| format!("{}: {e}", file.path))?;
        if bytes != file.bytes {
            return Err(format!(
                "{} has {bytes} bytes, the manifest says {}",
                file.path, file.bytes
            ));
        }
        if sha256 != file.sha256 {
            return Err(format!(
                "{} does not have the SHA-256 of the manifest",
                file.path
            ));
        }
    }
    let first_segment = crate::log::segment::segment_path(Path::new("log"), 0);
    for required in [
        PathBuf::from(keys::VKEY_FILE),
        PathBuf::from("log").join(checkpoint_store::CHECKPOINTS_FILE),
        first_segment,
    ] {
        if !listed.contains(&required) {
            return Err(format!("{} is missing", required.display()));
        }
    }
    for found in files_under(backup).map_err(|e| format!("reading the backup: {e}"))? {
        let relative = found.strip_prefix(backup).unwrap_or(&found);
        if relative != Path::new(MANIFEST_FILE) && !listed.contains(relative) {
            return Err(format!("{} is not in the manifest", relative.display()));
        }
    }
    Ok(())
}

/// Every regular file under `dir` (bounded by [`BACKUP_FILES_MAX`]).
fn files_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
            if out.len() > BACKUP_FILES_MAX {
                return Err(std::io::Error::other("too many files"));
            }
        }
    }
    Ok(out)
}
