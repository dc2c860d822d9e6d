//! Signed checkpoints: the C2SP `tlog-checkpoint` text of a Merkle tree head,
//! wrapped in a C2SP `signed-note`.
//!
//! A checkpoint commits the log to its first `size` entries: anyone holding a
//! verified checkpoint can check inclusion and consistency proofs against its
//! root hash. ledgraph signs one checkpoint per group commit with the node's
//! [`NodeKey`], and uses the key name as the checkpoint origin, so a verifier
//! key names exactly one log.
//!
//! This module deliberately does **not** compute roots or proofs (that is
//! [`crate::log::merkle`]), decide when to sign, store checkpoints, or check
//! that two checkpoints are consistent. It does not verify cosignatures
//! either: signatures by other keys (witnesses) are preserved in the note but
//! ignored, as the signed-note spec requires.
//!
//! # Checkpoint text (<https://c2sp.org/tlog-checkpoint>)
//!
//! ```text
//! example.com/behind-the-sofa                     <- origin, non-empty
//! 20852163                                        <- tree size, decimal, no leading zeros
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=    <- base64 of the 32-byte RFC 6962 root
//! optional extension line                         <- zero or more, each non-empty
//! ```
//!
//! Every line ends with `\n`. The size must fit in a `u64`; `01`, `+1` and
//! the like are rejected, so each tree head has exactly one text.
//!
//! # Signed note (<https://c2sp.org/signed-note>)
//!
//! The text, a blank line, then one or more signature lines
//! `— <key name> <base64(4-byte key ID || signature)>\n` (an em dash, U+2014).
//! An Ed25519 signature covers the text bytes exactly, final newline included:
//!
//! ```text
//! example.com/behind-the-sofa
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//!
//! — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
//! ```
//!
//! Opening a note checks, before any cryptography, that it is at most
//! [`NOTE_BYTES_MAX`] bytes with at most [`NOTE_SIGNATURES_MAX`] signature
//! lines, is UTF-8 without control characters other than `\n`, and that every
//! signature line is well formed. Then signatures whose key name *and* key ID
//! match the verifier are checked (any failure rejects the note); others are
//! ignored. At least one must match and verify.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::keys::{NodeKey, Verifier, is_valid_key_name};
use crate::log::merkle::Hash;

/// Largest signed note we accept or produce.
pub const NOTE_BYTES_MAX: usize = 1 << 20;
/// Most signature lines we accept in one note (C2SP asks for at least 16).
pub const NOTE_SIGNATURES_MAX: usize = 100;

const SIG_PREFIX: &str = "— ";
/// base64 of a 4-byte key ID and a 64-byte Ed25519 signature.
const ED25519_SIG_B64_LEN: usize = (4 + 64usize).div_ceil(3) * 4;

/// Why a signed note was rejected or could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    #[error("signed note is {bytes} bytes, more than the limit of {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("signed note has more than {max} signature lines")]
    TooManySignatures { max: usize },
    #[error("malformed signed note, line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error(
        "signed note has no signature by key {key}; it was signed by another key, or the name or key ID were altered"
    )]
    NoSignature { key: String },
    #[error(
        "invalid signature by key {key}: the note was altered, or signed by a different key with the same name and ID"
    )]
    BadSignature { key: String },
}

/// Why a signed checkpoint was rejected or could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("malformed checkpoint, line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error(
        "checkpoint origin {found:?} is not this log's key name {expected:?}; it belongs to another log"
    )]
    WrongOrigin { expected: String, found: String },
}

/// 1-based number of the line containing byte `pos` of `text`.
fn line_at(text: &[u8], pos: usize) -> usize {
    1 + text.iter().take(pos).filter(|&&b| b == b'\n').count()
}

fn key_label(name: &str, id: [u8; 4]) -> String {
    format!("{name}+{}", hex::encode(id))
}

fn check_note_size(bytes: usize) -> Result<(), NoteError> {
    if bytes > NOTE_BYTES_MAX {
        return Err(NoteError::TooLarge {
            bytes,
            max: NOTE_BYTES_MAX,
        });
    }
    Ok(())
}

/// The only control character a note may contain is `\n`.
fn check_controls(text: &str) -> Result<(), NoteError> {
    match text
        .bytes()
        .enumerate()
        .find(|&(_, b)| b < 0x20 && b != b'\n')
    {
        Some((pos, b)) => Err(NoteError::Malformed {
            line: line_at(text.as_bytes(), pos),
            reason: format!("control character 0x{b:02x}; only newline is allowed"),
        }),
        None => Ok(()),
    }
}

fn signature_line_len(key: &NodeKey) -> usize {
    1 + SIG_PREFIX.len() + key.name().len() + 1 + ED25519_SIG_B64_LEN + 1
}

/// Signs everything in `buf` (the note text) and appends the blank line and
/// the signature line, so signing a checkpoint needs a single allocation.
fn append_signature(buf: &mut String, key: &NodeKey) {
    let sig = key.sign(buf.as_bytes());
    let mut raw = [0u8; 4 + 64];
    let (id, rest) = raw.split_at_mut(4);
    id.copy_from_slice(&key.key_id());
    rest.copy_from_slice(&sig);
    buf.push('\n');
    buf.push_str(SIG_PREFIX);
    buf.push_str(key.name());
    buf.push(' ');
    BASE64.encode_string(raw, buf);
    buf.push('\n');
}

/// Signs `text` with `key`: returns `text`, a blank line and one signature
/// line. `text` must be non-empty, end with `\n`, and contain no control
/// characters other than `\n`.
pub fn sign_note(text: &str, key: &NodeKey) -> Result<String, NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed {
            line: line_at(text.as_bytes(), text.len()),
            reason: "the note text must be non-empty and end with a newline".into(),
        });
    }
    check_controls(text)?;
    let len = text.len() + signature_line_len(key);
    // Never produce a note we would refuse to open.
    check_note_size(len)?;
    let mut note = String::with_capacity(len);
    note.push_str(text);
    append_signature(&mut note, key);
    Ok(note)
}

/// A parsed signature line.
struct SigLine<'a> {
    name: &'a str,
    b64: &'a str,
    key_id: [u8; 4],
    signature: Vec<u8>,
}

fn parse_signature_line(line: &str) -> Result<SigLine<'_>, String> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(
        "a signature line must be \"— <key name> <base64 signature>\" (em dash U+2014, space)",
    )?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or("a signature line needs a space between key name and signature")?;
    if !is_valid_key_name(name) {
        return Err(format!("invalid key name {name:?}"));
    }
    let mut signature = BASE64
        .decode(b64)
        .map_err(|e| format!("signature is not valid base64: {e}"))?;
    let key_id = match signature.split_first_chunk::<4>() {
        Some((id, sig)) if !sig.is_empty() => *id,
        _ => return Err("signature is too short to hold a key ID and a signature".into()),
    };
    signature.drain(..key_id.len());
    Ok(SigLine {
        name,
        b64,
        key_id,
        signature,
    })
}

/// Like [`open_note`], for a note as raw bytes (from disk or the network).
pub fn open_note_bytes<'a>(note: &'a [u8], verifier: &Verifier) -> Result<&'a str, NoteError> {
    check_note_size(note.len())?;
    let note = std::str::from_utf8(note).map_err(|e| NoteError::Malformed {
        line: line_at(note, e.valid_up_to()),
        reason: "not valid UTF-8".into(),
    })?;
    open_note(note, verifier)
}

/// Verifies a signed note against `verifier` and returns its text (with the
/// final newline). See the module docs for the rules.
pub fn open_note<'a>(note: &'a str, verifier: &Verifier) -> Result<&'a str, NoteError> {
    check_note_size(note.len())?;
    check_controls(note)?;
    // Line numbers are only needed for errors; count them lazily.
    let last_line = || line_at(note.as_bytes(), note.len());
    // The last blank line separates text from signatures: the text may
    // contain blank lines, signature lines may not. `text` keeps its final
    // newline, which is signed; `sigs` starts after the blank line.
    let (text, sigs) = note
        .rfind("\n\n")
        .and_then(|split| note.split_at_checked(split + 1))
        .and_then(|(text, rest)| Some((text, rest.strip_prefix('\n')?)))
        .ok_or_else(|| NoteError::Malformed {
            line: last_line(),
            reason: "no blank line separating the text from the signatures".into(),
        })?;
    let sig_line = |i: usize| line_at(note.as_bytes(), text.len() + 1) + i;
    if sigs.is_empty() {
        return Err(NoteError::Malformed {
            line: sig_line(0),
            reason: "no signature lines after the blank line".into(),
        });
    }
    let sigs = sigs
        .strip_suffix('\n')
        .ok_or_else(|| NoteError::Malformed {
            line: last_line(),
            reason: "the last signature line does not end with a newline".into(),
        })?;
    // Count before parsing or verifying anything, to bound the work an
    // attacker can make us do.
    if sigs.split('\n').nth(NOTE_SIGNATURES_MAX).is_some() {
        return Err(NoteError::TooManySignatures {
            max: NOTE_SIGNATURES_MAX,
        });
    }
    let mut verified: Option<&str> = None;
    for (i, line) in sigs.split('\n').enumerate() {
        let sig = parse_signature_line(line).map_err(|reason| NoteError::Malformed {
            line: sig_line(i),
            reason,
        })?;
        // Both name and ID must match: a shared name or a colliding ID alone
        // means an unknown key, which the spec says to ignore.
        if sig.name != verifier.name() || sig.key_id != verifier.key_id() {
            continue;
        }
        // A byte-identical repeat of a line already verified needs no second
        // check; any other signature by our key must verify.
        if verified == Some(sig.b64) {
            continue;
        }
        let valid = <&[u8; 64]>::try_from(sig.signature.as_slice())
            .is_ok_and(|s| verifier.verify(text.as_bytes(), s));
        if !valid {
            return Err(NoteError::BadSignature {
                key: key_label(sig.name, sig.key_id),
            });
        }
        verified = Some(sig.b64);
    }
    match verified {
        Some(_) => Ok(text),
        None => Err(NoteError::NoSignature {
            key: key_label(verifier.name(), verifier.key_id()),
        }),
    }
}

/// A tree head in C2SP `tlog-checkpoint` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the log; for ledgraph, the node's key name.
    pub origin: String,
    /// Number of entries in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` entries.
    pub root: Hash,
    /// Opaque extension lines, without newlines. Not recommended by C2SP.
    pub extensions: Vec<String>,
}

fn check_line(line: &str, lineno: usize, what: &str) -> Result<(), CheckpointError> {
    let reason = if line.is_empty() {
        format!("the {what} is empty")
    } else if line.bytes().any(|b| b < 0x20) {
        format!("the {what} contains a newline or control character")
    } else {
        return Ok(());
    };
    Err(CheckpointError::Malformed {
        line: lineno,
        reason,
    })
}

/// Parses a tree size in its one canonical spelling.
fn parse_size(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("tree size {s:?} is not a decimal number"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("tree size {s:?} has a leading zero"));
    }
    s.parse()
        .map_err(|_| format!("tree size {s} does not fit in 64 bits"))
}

impl Checkpoint {
    /// Checks that the fields can be written as a checkpoint text that
    /// [`Checkpoint::parse`] reads back: origin and extension lines must be
    /// non-empty and free of newlines and other control characters.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        check_line(&self.origin, 1, "origin")?;
        for (i, ext) in self.extensions.iter().enumerate() {
            check_line(ext, 4 + i, "extension line")?;
        }
        Ok(())
    }

    fn text_len(&self) -> usize {
        let digits = self.size.checked_ilog10().unwrap_or(0) as usize + 1;
        let exts: usize = self.extensions.iter().map(|e| e.len() + 1).sum();
        self.origin.len() + 1 + digits + 1 + 44 + 1 + exts
    }

    fn write_text(&self, buf: &mut String) {
        buf.push_str(&self.origin);
        buf.push('\n');
        // Writing to a String cannot fail.
        let _ = writeln!(buf, "{}", self.size);
        BASE64.encode_string(self.root, buf);
        buf.push('\n');
        for ext in &self.extensions {
            buf.push_str(ext);
            buf.push('\n');
        }
    }

    /// The checkpoint text. Does not validate: see [`Checkpoint::validate`].
    pub fn to_text(&self) -> String {
        let mut buf = String::with_capacity(self.text_len());
        self.write_text(&mut buf);
        buf
    }

    /// Parses a checkpoint text (the text of a note, final newline included).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let malformed = |line, reason: &str| CheckpointError::Malformed {
            line,
            reason: reason.to_owned(),
        };
        let body = text.strip_suffix('\n').ok_or_else(|| {
            malformed(
                line_at(text.as_bytes(), text.len()),
                "the checkpoint must end with a newline",
            )
        })?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_line(origin, 1, "origin")?;
        let size = lines
            .next()
            .ok_or_else(|| malformed(2, "missing the tree size"))?;
        let size =
            parse_size(size).map_err(|reason| CheckpointError::Malformed { line: 2, reason })?;
        let root_b64 = lines
            .next()
            .ok_or_else(|| malformed(3, "missing the root hash"))?;
        let root = BASE64
            .decode(root_b64)
            .ok()
            .and_then(|raw| Hash::try_from(raw.as_slice()).ok())
            .ok_or_else(|| {
                malformed(
                    3,
                    "the root hash is not the padded standard base64 of 32 bytes",
                )
            })?;
        let extensions = lines
            .enumerate()
            .map(|(i, ext)| check_line(ext, 4 + i, "extension line").map(|()| ext.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A checkpoint together with the signed note it was read from or signed as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The complete note, including signatures by other keys (cosignatures).
    pub note: String,
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the node's key. Its origin must be the key's
    /// name, as [`SignedCheckpoint::verify`] requires.
    pub fn sign(checkpoint: Checkpoint, key: &NodeKey) -> Result<Self, CheckpointError> {
        checkpoint.validate()?;
        if checkpoint.origin != key.name() {
            return Err(CheckpointError::WrongOrigin {
                expected: key.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        let len = checkpoint.text_len() + signature_line_len(key);
        check_note_size(len)?;
        let mut note = String::with_capacity(len);
        checkpoint.write_text(&mut note);
        append_signature(&mut note, key);
        Ok(Self { checkpoint, note })
    }

    /// Verifies the note with `verifier` and parses the checkpoint; origin
    /// must equal the verifier's key name (ledgraph uses the key name as the
    /// log origin).
    pub fn verify(note: &str, verifier: &Verifier) -> Result<Self, CheckpointError> {
        let text = open_note(note, verifier)?;
        let checkpoint = Checkpoint::parse(text)?;
        if checkpoint.origin != verifier.name() {
            return Err(CheckpointError::WrongOrigin {
                expected: verifier.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(Self {
            checkpoint,
            note: note.to_owned(),
        })
    }

    /// Like [`SignedCheckpoint::verify`], for a note as raw bytes.
    pub fn verify_bytes(note: &[u8], verifier: &Verifier) -> Result<Self, CheckpointError> {
        check_note_size(note.len())?;
        let note = std::str::from_utf8(note).map_err(|e| NoteError::Malformed {
            line: line_at(note, e.valid_up_to()),
            reason: "not valid UTF-8".into(),
        })?;
        Self::verify(note, verifier)
    }
}
