//! The descriptor file format (docs/descriptor-format.md): a fixed header, a section table,
//! 8-byte-aligned sections, and an Ed25519 signature over every byte before it.
//!
//! ```text
//! 0    magic "LGDESC\0\0"                       8 bytes
//! 8    format version (u32 LE) = 1
//! 12   section count (u32 LE)
//! 16   input digest: SHA-256 of the canonical N-Quads of the inputs    32 bytes
//! 48   compiler version, UTF-8, NUL-padded                              32 bytes
//! 80   signer's Ed25519 public key                                      32 bytes
//! 112  section table: per section {id u32, align u32, offset u64, length u64} (24 bytes)
//! ...  sections, each at an offset that is a multiple of its align, zero padding between
//! end-64  Ed25519 signature over bytes [0, end-64)
//! ```
//!
//! All integers little-endian. No timestamps or other run-dependent bytes: the same inputs,
//! compiler version and key give the same file. The writer here is the only producer.

use sha2::{Digest as _, Sha256};

use crate::keys::NodeKey;

pub const MAGIC: [u8; 8] = *b"LGDESC\0\0";
pub const FORMAT_VERSION: u32 = 1;
pub const HEADER_BYTES: usize = 112;
pub const SECTION_ENTRY_BYTES: usize = 24;
pub const SIGNATURE_BYTES: usize = 64;
pub const COMPILER_VERSION_BYTES: usize = 32;
/// Alignment of every section (the kernel's tables hold `u64` and `f64`).
pub const SECTION_ALIGN: u32 = 8;
/// Most sections a file may declare.
pub const SECTIONS_MAX: u32 = 64;
/// Largest descriptor the loader accepts, in bytes.
pub const DESCRIPTOR_BYTES_MAX: u64 = 1 << 30;

/// What this build writes as its compiler version.
pub const COMPILER_VERSION: &str = concat!("ledgraph ", env!("CARGO_PKG_VERSION"));

/// Section ids. The program sections hold `kernel::program` tables as-is.
pub mod section {
    pub const PROGRAM_HEADER: u32 = 1;
    pub const DISPATCH: u32 = 2;
    pub const GUARDS: u32 = 3;
    pub const RULES: u32 = 4;
    pub const ACTIONS: u32 = 5;
    pub const SETS: u32 = 6;
    pub const CLASS_CLOSURE: u32 = 7;
    pub const WARM: u32 = 8;
    pub const TERM_OFFSETS: u32 = 9;
    pub const TERM_BYTES: u32 = 10;
    /// `u32` triples `(kind, index, message term id)`: messages of admission guards and alerts.
    pub const MESSAGES: u32 = 11;
    /// The compile report, UTF-8.
    pub const REPORT: u32 = 12;
    /// Every section this build writes, in file order; all are required.
    pub const ALL: [u32; 12] = [
        PROGRAM_HEADER,
        DISPATCH,
        GUARDS,
        RULES,
        ACTIONS,
        SETS,
        CLASS_CLOSURE,
        WARM,
        TERM_OFFSETS,
        TERM_BYTES,
        MESSAGES,
        REPORT,
    ];

    pub fn name(id: u32) -> &'static str {
        match id {
            PROGRAM_HEADER => "program-header",
            DISPATCH => "dispatch",
            GUARDS => "guards",
            RULES => "rules",
            ACTIONS => "actions",
            SETS => "sets",
            CLASS_CLOSURE => "class-closure",
            WARM => "warm",
            TERM_OFFSETS => "term-offsets",
            TERM_BYTES => "term-bytes",
            MESSAGES => "messages",
            REPORT => "report",
            _ => "unknown",
        }
    }
}

/// A message attached to a guard (admission refusals) or an action (alerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C)]
pub struct MessageEntry {
    /// [`MessageEntry::GUARD`] or [`MessageEntry::ACTION`].
    pub kind: u32,
    /// Index into the guards or the actions table.
    pub index: u32,
    /// Term id of the message literal.
    pub message: u32,
}

impl MessageEntry {
    pub const GUARD: u32 = 0;
    pub const ACTION: u32 = 1;
}

/// Writes a descriptor with `sections` (id, bytes) in the given order, signed by `key`.
pub fn write(input_digest: &[u8; 32], sections: &[(u32, &[u8])], key: &NodeKey) -> Vec<u8> {
    let table_end = HEADER_BYTES + SECTION_ENTRY_BYTES * sections.len();
    let align = SECTION_ALIGN as usize;
    let mut offsets = Vec::with_capacity(sections.len());
    let mut at = table_end.next_multiple_of(align);
    for (_, bytes) in sections {
        offsets.push(at);
        at = (at + bytes.len()).next_multiple_of(align);
    }
    let mut out = Vec::with_capacity(at + SIGNATURE_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.extend_from_slice(input_digest);
    let mut version = [0u8; COMPILER_VERSION_BYTES];
    let v = COMPILER_VERSION.as_bytes();
    let n = v.len().min(COMPILER_VERSION_BYTES);
    version[..n].copy_from_slice(&v[..n]);
    out.extend_from_slice(&version);
    out.extend_from_slice(&key.public_key());
    debug_assert_eq!(out.len(), HEADER_BYTES);
    for ((id, bytes), offset) in sections.iter().zip(&offsets) {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&SECTION_ALIGN.to_le_bytes());
        out.extend_from_slice(&(*offset as u64).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    }
    for ((_, bytes), offset) in sections.iter().zip(&offsets) {
        out.resize(*offset, 0);
        out.extend_from_slice(bytes);
    }
    out.resize(at, 0);
    let signature = key.sign(&out);
    out.extend_from_slice(&signature);
    out
}

/// The name of a descriptor: SHA-256 of all its bytes (signature included).
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
