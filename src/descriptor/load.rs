//! The descriptor loader: checks a file's signature and every offset, length and alignment,
//! then hands out the kernel's tables as slices into the file's bytes (zero-copy).
//!
//! Order of checks: size and magic, version, the section table fits, the Ed25519 signature
//! (with the key embedded in the header, then — if the caller pins one — that it is the
//! trusted key), then each section (known id, 8-byte alignment, inside the signed bytes, in
//! order, no overlap, none missing), and finally `kernel::program::ProgramView::new`, which
//! checks every index inside the tables. Nothing is read from a section before the signature
//! has been verified, and any failure is an error, never a panic (see the fuzz target
//! `fuzz/fuzz_targets/descriptor_load.rs`).

use std::ops::Range;

use ed25519_dalek::{Signature, VerifyingKey};

use super::error::LoadError;
use super::format::{
    COMPILER_VERSION_BYTES, DESCRIPTOR_BYTES_MAX, FORMAT_VERSION, HEADER_BYTES, MAGIC,
    MessageEntry, SECTION_ALIGN, SECTION_ENTRY_BYTES, SECTIONS_MAX, SIGNATURE_BYTES, digest,
    section,
};
use crate::kernel::program::{ProgramHeader, ProgramParts, ProgramView, TermId, cast_slice};
use crate::keys::Verifier;

/// An owned copy of descriptor bytes starting on an 8-byte boundary, as [`Descriptor::load`]
/// requires (a `Vec<u8>` gives no such guarantee; an mmap does).
#[derive(Debug, Clone)]
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    pub fn copy_from(bytes: &[u8]) -> AlignedBytes {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_ne_bytes(b);
        }
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        crate::kernel::program::as_bytes(&self.words)
            .get(..self.len)
            .unwrap_or_default()
    }
}

/// A loaded, verified descriptor: borrowed views of its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor<'a> {
    bytes: &'a [u8],
    digest: [u8; 32],
    input_digest: [u8; 32],
    compiler_version: &'a str,
    public_key: [u8; 32],
    sections: [(u32, usize, usize); section::ALL.len()],
    program: ProgramView<'a>,
    messages: &'a [u32],
    report: &'a str,
}

fn corrupt(why: impl Into<String>) -> LoadError {
    LoadError::Corruption(why.into())
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, LoadError> {
    let b = bytes.get(at..at + 4).ok_or_else(|| corrupt("truncated"))?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64, LoadError> {
    let b = bytes.get(at..at + 8).ok_or_else(|| corrupt("truncated"))?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

fn array32(bytes: &[u8], at: usize) -> Result<[u8; 32], LoadError> {
    let mut a = [0u8; 32];
    a.copy_from_slice(bytes.get(at..at + 32).ok_or_else(|| corrupt("truncated"))?);
    Ok(a)
}

impl<'a> Descriptor<'a> {
    /// Verifies and views `bytes`. With `trusted`, the file must be signed by that key.
    pub fn load(bytes: &'a [u8], trusted: Option<&Verifier>) -> Result<Descriptor<'a>, LoadError> {
        if bytes.len() as u64 > DESCRIPTOR_BYTES_MAX {
            return Err(LoadError::TooLarge {
                max: DESCRIPTOR_BYTES_MAX,
            });
        }
        if bytes.len() < HEADER_BYTES + SIGNATURE_BYTES || bytes[..8] != MAGIC {
            return Err(LoadError::BadMagic);
        }
        if (bytes.as_ptr() as usize) % SECTION_ALIGN as usize != 0 {
            return Err(LoadError::Misaligned);
        }
        let version = u32_at(bytes, 8)?;
        if version != FORMAT_VERSION {
            return Err(LoadError::Version {
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        let count = u32_at(bytes, 12)?;
        let signed_end = bytes.len() - SIGNATURE_BYTES;
        let table_end = HEADER_BYTES + SECTION_ENTRY_BYTES * count.min(SECTIONS_MAX) as usize;
        if count > SECTIONS_MAX || table_end > signed_end {
            return Err(corrupt(format!("{count} sections do not fit")));
        }
        let public_key = array32(bytes, 80)?;
        verify(bytes, signed_end, &public_key)?;
        if let Some(trusted) = trusted
            && trusted.public_key() != public_key
        {
            return Err(LoadError::WrongKey {
                found: hex::encode(public_key),
                expected: hex::encode(trusted.public_key()),
            });
        }
        let input_digest = array32(bytes, 16)?;
        let version_bytes = &bytes[48..48 + COMPILER_VERSION_BYTES];
        let end = version_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(COMPILER_VERSION_BYTES);
        let compiler_version = std::str::from_utf8(&version_bytes[..end])
            .map_err(|_| corrupt("compiler version is not UTF-8"))?;
        let sections = section_table(bytes, count as usize, table_end, signed_end)?;
        let get = move |id: u32| -> &'a [u8] {
            sections
                .iter()
                .find(|s| s.0 == id)
                .map_or(&[][..], |&(_, at, len)| &bytes[at..at + len])
        };
        let program = program(&get)?;
        let messages: &[u32] =
            cast_slice(get(section::MESSAGES)).map_err(|e| corrupt(format!("messages: {e}")))?;
        check_messages(messages, &program)?;
        let report = std::str::from_utf8(get(section::REPORT))
            .map_err(|_| corrupt("report is not UTF-8"))?;
        Ok(Descriptor {
            bytes,
            digest: digest(bytes),
            input_digest,
            compiler_version,
            public_key,
            sections,
            program,
            messages,
            report,
        })
    }

    /// SHA-256 of the whole file: the descriptor's name.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    pub fn input_digest(&self) -> [u8; 32] {
        self.input_digest
    }

    pub fn compiler_version(&self) -> &'a str {
        self.compiler_version
    }

    /// The Ed25519 public key that signed it.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// `(id, offset, length)` of every section, in file order.
    pub fn sections(&self) -> &[(u32, usize, usize)] {
        &self.sections
    }

    /// The checked kernel tables, borrowing the file's bytes.
    pub fn program(&self) -> ProgramView<'a> {
        self.program
    }

    pub fn report(&self) -> &'a str {
        self.report
    }

    /// Every message entry.
    pub fn messages(&self) -> impl Iterator<Item = MessageEntry> + 'a {
        self.messages.chunks_exact(3).map(|m| MessageEntry {
            kind: m[0],
            index: m[1],
            message: m[2],
        })
    }

    /// The message of admission guard `index` (the shape's `sh:message` or the rule's
    /// `lg:reject`), as the N-Triples literal the dictionary holds.
    pub fn guard_message(&self, index: u32) -> Option<&'a str> {
        self.message(MessageEntry::GUARD, index)
    }

    /// The message of alert action `index`.
    pub fn alert_message(&self, index: u32) -> Option<&'a str> {
        self.message(MessageEntry::ACTION, index)
    }

    fn message(&self, kind: u32, index: u32) -> Option<&'a str> {
        let rows = self.messages.chunks_exact(3);
        let at = rows.clone().position(|m| m[0] == kind && m[1] == index)?;
        let id: TermId = self.messages[at * 3 + 2];
        self.program.term(id)
    }
}

fn verify(bytes: &[u8], signed_end: usize, public_key: &[u8; 32]) -> Result<(), LoadError> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| LoadError::BadSignature)?;
    let mut sig = [0u8; SIGNATURE_BYTES];
    sig.copy_from_slice(&bytes[signed_end..]);
    key.verify_strict(&bytes[..signed_end], &Signature::from_bytes(&sig))
        .map_err(|_| LoadError::BadSignature)
}

fn section_table(
    bytes: &[u8],
    count: usize,
    table_end: usize,
    signed_end: usize,
) -> Result<[(u32, usize, usize); section::ALL.len()], LoadError> {
    let mut out = [(0u32, 0usize, 0usize); section::ALL.len()];
    let mut found = 0usize;
    let mut previous_end = table_end;
    for i in 0..count {
        let at = HEADER_BYTES + i * SECTION_ENTRY_BYTES;
        let (id, align) = (u32_at(bytes, at)?, u32_at(bytes, at + 4)?);
        let (offset, len) = (u64_at(bytes, at + 8)?, u64_at(bytes, at + 16)?);
        let Some(slot) = section::ALL.iter().position(|&s| s == id) else {
            return Err(corrupt(format!("unknown section id {id}")));
        };
        if out[slot].0 != 0 {
            return Err(corrupt(format!(
                "section {} appears twice",
                section::name(id)
            )));
        }
        if align != SECTION_ALIGN || offset % u64::from(align) != 0 {
            return Err(corrupt(format!(
                "section {} is not {SECTION_ALIGN}-byte aligned",
                section::name(id)
            )));
        }
        let range: Range<u64> = offset
            ..offset
                .checked_add(len)
                .ok_or_else(|| corrupt("section length overflows"))?;
        if range.start < previous_end as u64 || range.end > signed_end as u64 {
            return Err(corrupt(format!(
                "section {} at {}+{} overlaps or leaves the file",
                section::name(id),
                offset,
                len
            )));
        }
        previous_end = range.end as usize;
        out[slot] = (id, range.start as usize, len as usize);
        found += 1;
    }
    if found != section::ALL.len() {
        let missing: Vec<&str> = section::ALL
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.0 == 0)
            .map(|(&id, _)| section::name(id))
            .collect();
        return Err(corrupt(format!("missing sections: {}", missing.join(", "))));
    }
    Ok(out)
}

fn program<'a>(get: &impl Fn(u32) -> &'a [u8]) -> Result<ProgramView<'a>, LoadError> {
    fn table<'a, T: crate::kernel::program::Pod>(
        bytes: &'a [u8],
        name: &str,
    ) -> Result<&'a [T], LoadError> {
        cast_slice(bytes).map_err(|e| corrupt(format!("{name}: {e}")))
    }
    let header: &[ProgramHeader] = table(get(section::PROGRAM_HEADER), "program header")?;
    let [header] = header else {
        return Err(corrupt("program header is not one record"));
    };
    let parts = ProgramParts {
        header: *header,
        dispatch: table(get(section::DISPATCH), "dispatch")?,
        guards: table(get(section::GUARDS), "guards")?,
        rules: table(get(section::RULES), "rules")?,
        actions: table(get(section::ACTIONS), "actions")?,
        sets: table(get(section::SETS), "sets")?,
        class_closure: table(get(section::CLASS_CLOSURE), "class closure")?,
        warm: table(get(section::WARM), "warm")?,
        term_offsets: table(get(section::TERM_OFFSETS), "term offsets")?,
        term_bytes: get(section::TERM_BYTES),
    };
    ProgramView::new(parts).map_err(|e| corrupt(e.to_string()))
}

fn check_messages(messages: &[u32], program: &ProgramView<'_>) -> Result<(), LoadError> {
    if messages.len() % 3 != 0 {
        return Err(corrupt("messages: not (kind, index, message) triples"));
    }
    let parts = program.parts();
    for m in messages.chunks_exact(3) {
        let limit = match m[0] {
            MessageEntry::GUARD => parts.guards.len(),
            MessageEntry::ACTION => parts.actions.len(),
            _ => return Err(corrupt("messages: unknown kind")),
        };
        if m[1] as usize >= limit || m[2] >= parts.header.term_count {
            return Err(corrupt("messages: index or message out of range"));
        }
    }
    Ok(())
}
