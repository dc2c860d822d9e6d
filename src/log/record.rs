//! Record framing shared by segment files and the checkpoints file.
//!
//! ```text
//! record = len:u32le kind:u8 header_crc:u32le payload_crc:u32le payload[len]
//! header_crc  = crc32c(len ‖ kind)      payload_crc = crc32c(payload)
//! ```
//!
//! The header has its own checksum so that a damaged length is never mistaken for a record
//! that runs past the end of the file. That distinction is the whole recovery rule:
//!
//! * **torn** — the file ends inside a record (fewer than 13 header bytes, or a payload longer
//!   than what is left), or everything from a record boundary to the end is zero bytes
//!   (blocks allocated but not written when the machine lost power). A crash can leave exactly
//!   these; recovery truncates them.
//! * **corrupt** — anything else that fails a check: a complete header or payload whose CRC does
//!   not match, an unknown kind, an over-long length. A crash cannot produce these, so they
//!   are reported as [`LogError::Corruption`] with the file and byte offset, never repaired.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::LogError;

pub const RECORD_HEADER_BYTES: usize = 13;
/// Upper bound of one record's payload (a checkpoint note or one encoded event).
pub const RECORD_PAYLOAD_BYTES_MAX: usize = 2 << 20;

pub const KIND_EVENT: u8 = 1;
pub const KIND_COMMIT: u8 = 2;
pub const KIND_CHECKPOINT: u8 = 3;

fn valid_kind(kind: u8) -> bool {
    matches!(kind, KIND_EVENT | KIND_COMMIT | KIND_CHECKPOINT)
}

/// Starts a record in `buf`; write the payload after it, then call [`finish_record`].
pub fn begin_record(buf: &mut Vec<u8>, kind: u8) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
    buf[start + 4] = kind;
    start
}

/// Fills in the length and checksums of the record begun at `start`.
pub fn finish_record(buf: &mut [u8], start: usize) {
    let payload_len = buf.len() - start - RECORD_HEADER_BYTES;
    let (header, payload) = buf[start..].split_at_mut(RECORD_HEADER_BYTES);
    header[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..5]);
    header[5..9].copy_from_slice(&header_crc.to_le_bytes());
    header[9..13].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
}

/// Appends a whole record.
pub fn push_record(buf: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let start = begin_record(buf, kind);
    buf.extend_from_slice(payload);
    finish_record(buf, start);
}

/// A parsed, checked header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub payload_len: usize,
    pub payload_crc: u32,
}

/// Checks a 13-byte header. `Err(reason)` means the bytes are not a valid header.
pub fn parse_header(bytes: &[u8; RECORD_HEADER_BYTES]) -> Result<Header, String> {
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let kind = bytes[4];
    let header_crc = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
    if crc32c::crc32c(&bytes[..5]) != header_crc {
        return Err("record header checksum mismatch".into());
    }
    if !valid_kind(kind) {
        return Err(format!("unknown record kind {kind}"));
    }
    if len as usize > RECORD_PAYLOAD_BYTES_MAX {
        return Err(format!(
            "record length {len} over the limit {RECORD_PAYLOAD_BYTES_MAX}"
        ));
    }
    let payload_crc = u32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]);
    Ok(Header {
        kind,
        payload_len: len as usize,
        payload_crc,
    })
}

/// What the next read from a record file found.
#[derive(Debug)]
pub enum Next {
    /// A record; its payload is in the caller's buffer. `offset` is where its header starts.
    Record { kind: u8, offset: u64 },
    /// Clean end of file.
    End,
    /// The file ends in a torn record starting at `offset`.
    Torn { offset: u64, reason: String },
}

/// Reads records one after the other from a file, classifying damage (see the module doc).
pub struct RecordReader {
    reader: io::BufReader<File>,
    path: PathBuf,
    pos: u64,
    len: u64,
}

impl RecordReader {
    /// Opens `path` and positions the reader at `start`.
    pub fn open(path: &Path, start: u64) -> Result<Self, LogError> {
        let file = File::open(path).map_err(|e| LogError::io(path, e))?;
        let len = file.metadata().map_err(|e| LogError::io(path, e))?.len();
        let mut reader = io::BufReader::with_capacity(1 << 20, file);
        io::Seek::seek(&mut reader, io::SeekFrom::Start(start))
            .map_err(|e| LogError::io(path, e))?;
        Ok(RecordReader {
            reader,
            path: path.to_owned(),
            pos: start,
            len,
        })
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn file_len(&self) -> u64 {
        self.len
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> LogError {
        LogError::corruption(&self.path, offset, reason)
    }

    /// Reads the next record's payload into `payload`.
    pub fn next(&mut self, payload: &mut Vec<u8>) -> Result<Next, LogError> {
        let offset = self.pos;
        let left = self.len - offset;
        if left == 0 {
            return Ok(Next::End);
        }
        if left < RECORD_HEADER_BYTES as u64 {
            return Ok(Next::Torn {
                offset,
                reason: format!("{left} bytes of a record header"),
            });
        }
        let mut header_bytes = [0u8; RECORD_HEADER_BYTES];
        self.read_exact(&mut header_bytes)?;
        let header = match parse_header(&header_bytes) {
            Ok(h) => h,
            Err(reason) => {
                if header_bytes.iter().all(|&b| b == 0) && self.rest_is_zero()? {
                    return Ok(Next::Torn {
                        offset,
                        reason: "zero-filled tail".into(),
                    });
                }
                return Err(self.corrupt(offset, reason));
            }
        };
        let available = left - RECORD_HEADER_BYTES as u64;
        if header.payload_len as u64 > available {
            return Ok(Next::Torn {
                offset,
                reason: format!(
                    "record of {} bytes with {available} bytes left",
                    header.payload_len
                ),
            });
        }
        payload.clear();
        payload.resize(header.payload_len, 0);
        self.read_exact(payload)?;
        if crc32c::crc32c(payload) != header.payload_crc {
            return Err(self.corrupt(offset, "record payload checksum mismatch"));
        }
        Ok(Next::Record {
            kind: header.kind,
            offset,
        })
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), LogError> {
        self.reader
            .read_exact(buf)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn rest_is_zero(&mut self) -> Result<bool, LogError> {
        let mut chunk = [0u8; 8192];
        loop {
            let n = self
                .reader
                .read(&mut chunk)
                .map_err(|e| LogError::io(&self.path, e))?;
            if n == 0 {
                return Ok(true);
            }
            self.pos += n as u64;
            if chunk[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
        }
    }
}

/// Reads and checks one record at a known position (the index says where), returning its payload.
pub fn read_record_at(
    file: &File,
    path: &Path,
    offset: u64,
    payload_len: usize,
) -> Result<(u8, Vec<u8>), LogError> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; RECORD_HEADER_BYTES + payload_len];
    file.read_exact_at(&mut buf, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            LogError::corruption(path, offset, "record extends past the end of the segment")
        } else {
            LogError::io(path, e)
        }
    })?;
    let header_bytes: &[u8; RECORD_HEADER_BYTES] = buf[..RECORD_HEADER_BYTES]
        .try_into()
        .map_err(|_| LogError::corruption(path, offset, "short header"))?;
    let header = parse_header(header_bytes).map_err(|r| LogError::corruption(path, offset, r))?;
    if header.payload_len != payload_len {
        return Err(LogError::corruption(
            path,
            offset,
            "record length differs from the index",
        ));
    }
    let payload = buf.split_off(RECORD_HEADER_BYTES);
    if crc32c::crc32c(&payload) != header.payload_crc {
        return Err(LogError::corruption(
            path,
            offset,
            "record payload checksum mismatch",
        ));
    }
    Ok((header.kind, payload))
}
