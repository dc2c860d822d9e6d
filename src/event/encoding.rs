//! The canonical byte encoding of events, version 1.
//!
//! One encoding is used for everything that hashes or signs an event: the Merkle leaf is
//! `SHA-256(0x00 ‖ canonical bytes)`, and publisher batch signatures cover the same term
//! encoding. It is deliberately not N-Triples: N-Triples allows several spellings of one
//! literal (escapes), while this encoding has exactly one byte string per event.
//!
//! All integers are big-endian. Lengths are `u32`.
//!
//! ```text
//! event   = version:u8 (=0x01) op:u8 time:u64 actor:[u8;32] subject predicate object graph
//! op      = 0x01 add | 0x02 remove
//! subject, predicate = iri                      (blank nodes are skolemized before encoding)
//! object  = iri | string | lang-string | typed
//! graph   = 0x00 (default graph) | iri
//! iri         = 0x01 len:u32 utf8
//! string      = 0x02 len:u32 utf8               (xsd:string, the datatype is implied)
//! lang-string = 0x03 len:u32 utf8 langlen:u8 ascii-lowercase-tag
//! typed       = 0x04 len:u32 utf8 dtlen:u32 datatype-iri-utf8
//! ```
//!
//! Example: `add <http://e/s> <http://e/p> "v"` in the default graph at time `0x0000_0190_0000_0001`
//! by the actor key `[0x11; 32]` encodes to these 79 bytes:
//!
//! ```text
//! 01 01 0000019000000001
//! 1111111111111111111111111111111111111111111111111111111111111111
//! 01 0000000a 687474703a2f2f652f73        <http://e/s>
//! 01 0000000a 687474703a2f2f652f70        <http://e/p>
//! 02 00000001 76                          "v"
//! 00                                      default graph
//! ```
//!
//! (`canonical_example_matches_module_doc` in the tests pins this.)
//!
//! The batch signing message is `"ledgraph-batch-v1\n" ‖ actor:[u8;32] ‖ count:u32` followed,
//! per event, by `op:u8 subject predicate object graph` — the event encoding without version,
//! time and actor, because the log assigns the time after the publisher signed.
//!
//! Decoding checks every length against the remaining bytes, requires UTF-8 and valid IRIs,
//! and rejects trailing bytes, so a decoded event re-encodes to exactly the input.

use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};

use super::{ActorKey, Event, EventError, Op};

/// The version byte that starts every canonical event.
pub const ENCODING_VERSION: u8 = 1;
/// Upper bound of one encoded event; larger events are refused at admission.
pub const EVENT_BYTES_MAX: usize = 1 << 20;
/// Domain separator of the batch signing message.
pub const BATCH_SIGNING_PREFIX: &[u8] = b"ledgraph-batch-v1\n";

const TAG_DEFAULT_GRAPH: u8 = 0x00;
const TAG_IRI: u8 = 0x01;
const TAG_STRING: u8 = 0x02;
const TAG_LANG_STRING: u8 = 0x03;
const TAG_TYPED: u8 = 0x04;
const XSD_STRING: &str = "http://www.w3.org/2001/XMLSchema#string";
const RDF_LANG_STRING: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";

/// Byte offset of the time field, which the log fills in at commit.
pub const TIME_OFFSET: usize = 2;
/// Length of the fixed header (version, op, time, actor).
pub const HEADER_BYTES: usize = 42;

/// Appends the canonical encoding of one event to `out`.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) -> Result<(), EventError> {
    let start = out.len();
    out.push(ENCODING_VERSION);
    out.push(event.op.byte());
    out.extend_from_slice(&event.time.to_be_bytes());
    out.extend_from_slice(&event.actor.0);
    encode_quad(&event.quad, out)?;
    let len = out.len() - start;
    if len > EVENT_BYTES_MAX {
        out.truncate(start);
        return Err(EventError::TooLarge {
            bytes: len,
            max: EVENT_BYTES_MAX,
        });
    }
    Ok(())
}

/// Appends `subject predicate object graph` to `out`.
pub fn encode_quad(quad: &Quad, out: &mut Vec<u8>) -> Result<(), EventError> {
    match &quad.subject {
        NamedOrBlankNode::NamedNode(n) => put_iri(n.as_str(), out)?,
        NamedOrBlankNode::BlankNode(_) => return Err(EventError::UnskolemizedBlankNode),
    }
    put_iri(quad.predicate.as_str(), out)?;
    encode_object(&quad.object, out)?;
    match &quad.graph_name {
        GraphName::DefaultGraph => out.push(TAG_DEFAULT_GRAPH),
        GraphName::NamedNode(n) => put_iri(n.as_str(), out)?,
        GraphName::BlankNode(_) => return Err(EventError::UnskolemizedBlankNode),
    }
    Ok(())
}

#[allow(unreachable_patterns)] // `Term::Triple` exists when a dependency enables oxrdf's rdf-12
fn encode_object(term: &Term, out: &mut Vec<u8>) -> Result<(), EventError> {
    match term {
        Term::NamedNode(n) => put_iri(n.as_str(), out),
        Term::Literal(l) => encode_literal(l, out),
        Term::BlankNode(_) => Err(EventError::UnskolemizedBlankNode),
        _ => Err(EventError::UnsupportedTerm("triple terms".into())),
    }
}

fn encode_literal(literal: &Literal, out: &mut Vec<u8>) -> Result<(), EventError> {
    if let Some(language) = literal.language() {
        let tag = u8::try_from(language.len())
            .map_err(|_| EventError::UnsupportedTerm("language tag over 255 bytes".into()))?;
        out.push(TAG_LANG_STRING);
        put_str(literal.value(), out)?;
        out.push(tag);
        out.extend(language.bytes().map(|b| b.to_ascii_lowercase()));
        return Ok(());
    }
    let datatype = literal.datatype();
    if datatype.as_str() == XSD_STRING {
        out.push(TAG_STRING);
        return put_str(literal.value(), out);
    }
    out.push(TAG_TYPED);
    put_str(literal.value(), out)?;
    put_str(datatype.as_str(), out)
}

fn put_iri(iri: &str, out: &mut Vec<u8>) -> Result<(), EventError> {
    out.push(TAG_IRI);
    put_str(iri, out)
}

fn put_str(s: &str, out: &mut Vec<u8>) -> Result<(), EventError> {
    let len = u32::try_from(s.len())
        .ok()
        .filter(|&l| l as usize <= EVENT_BYTES_MAX)
        .ok_or(EventError::TooLarge {
            bytes: s.len(),
            max: EVENT_BYTES_MAX,
        })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Decodes one canonical event; the whole of `bytes` must be the event.
pub fn decode_event(bytes: &[u8]) -> Result<Event, EventError> {
    decode(bytes, true)
}

/// Like [`decode_event`] but trusts that IRIs are well formed (they were checked when the event
/// was admitted and the bytes are covered by checksums and the Merkle tree): for bulk reads.
pub fn decode_event_trusted(bytes: &[u8]) -> Result<Event, EventError> {
    decode(bytes, false)
}

fn decode(bytes: &[u8], check_iris: bool) -> Result<Event, EventError> {
    let mut r = Reader {
        bytes,
        pos: 0,
        check_iris,
    };
    let version = r.u8()?;
    if version != ENCODING_VERSION {
        return Err(r.error(0, format!("unknown encoding version {version}")));
    }
    let op = match r.u8()? {
        0x01 => Op::Add,
        0x02 => Op::Remove,
        other => return Err(r.error(1, format!("unknown op byte {other:#04x}"))),
    };
    let time = u64::from_be_bytes(r.array::<8>()?);
    let actor = ActorKey(r.array::<32>()?);
    let quad = decode_quad_from(&mut r)?;
    if r.pos != bytes.len() {
        return Err(r.error(r.pos, "trailing bytes after the event".into()));
    }
    Ok(Event {
        op,
        quad,
        time,
        actor,
    })
}

fn decode_quad_from(r: &mut Reader<'_>) -> Result<Quad, EventError> {
    let subject = r.iri()?;
    let predicate = r.iri()?;
    let object = r.object()?;
    let graph = if r.peek()? == TAG_DEFAULT_GRAPH {
        r.pos += 1;
        GraphName::DefaultGraph
    } else {
        GraphName::NamedNode(r.iri()?)
    };
    Ok(Quad::new(subject, predicate, object, graph))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    check_iris: bool,
}

impl<'a> Reader<'a> {
    fn error(&self, offset: usize, reason: String) -> EventError {
        EventError::Decode { offset, reason }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], EventError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(self.pos, format!("needs {n} more bytes")));
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn peek(&self) -> Result<u8, EventError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error(self.pos, "unexpected end".into()))
    }

    fn u8(&mut self) -> Result<u8, EventError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EventError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn str_with_len(&mut self, len: usize) -> Result<&'a str, EventError> {
        let at = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|e| self.error(at, format!("invalid UTF-8: {e}")))
    }

    fn str(&mut self) -> Result<&'a str, EventError> {
        let len = u32::from_be_bytes(self.array::<4>()?) as usize;
        self.str_with_len(len)
    }

    fn iri(&mut self) -> Result<NamedNode, EventError> {
        let at = self.pos;
        let tag = self.u8()?;
        if tag != TAG_IRI {
            return Err(self.error(at, format!("expected an IRI tag, found {tag:#04x}")));
        }
        let s = self.str()?;
        if !self.check_iris {
            return Ok(NamedNode::new_unchecked(s));
        }
        NamedNode::new(s).map_err(|e| self.error(at, format!("invalid IRI: {e}")))
    }

    fn object(&mut self) -> Result<Term, EventError> {
        let at = self.pos;
        match self.peek()? {
            TAG_IRI => Ok(self.iri()?.into()),
            TAG_STRING => {
                self.pos += 1;
                Ok(Literal::new_simple_literal(self.str()?).into())
            }
            TAG_LANG_STRING => {
                self.pos += 1;
                let value = self.str()?;
                let len = self.u8()? as usize;
                let tag = self.str_with_len(len)?;
                if tag.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(self.error(at, "language tag not in lowercase".into()));
                }
                Literal::new_language_tagged_literal(value, tag)
                    .map(Term::from)
                    .map_err(|e| self.error(at, format!("invalid language tag: {e}")))
            }
            TAG_TYPED => {
                self.pos += 1;
                let value = self.str()?;
                let dt_at = self.pos;
                let datatype = self.str()?;
                if datatype == XSD_STRING || datatype == RDF_LANG_STRING {
                    return Err(self.error(dt_at, format!("non-canonical datatype {datatype}")));
                }
                let datatype = NamedNode::new(datatype)
                    .map_err(|e| self.error(dt_at, format!("invalid datatype IRI: {e}")))?;
                Ok(Literal::new_typed_literal(value, datatype).into())
            }
            other => Err(self.error(at, format!("unknown term tag {other:#04x}"))),
        }
    }
}

/// The message a publisher signs for a batch: see the module doc.
pub fn batch_signing_message(
    actor: &ActorKey,
    batch: &[(Op, Quad)],
) -> Result<Vec<u8>, EventError> {
    let count = u32::try_from(batch.len()).map_err(|_| EventError::TooLarge {
        bytes: batch.len(),
        max: u32::MAX as usize,
    })?;
    let mut out = Vec::with_capacity(64 + batch.len() * 160);
    out.extend_from_slice(BATCH_SIGNING_PREFIX);
    out.extend_from_slice(&actor.0);
    out.extend_from_slice(&count.to_be_bytes());
    for (op, quad) in batch {
        out.push(op.byte());
        encode_quad(quad, &mut out)?;
    }
    Ok(out)
}

/// The `op subject predicate object graph` part of an encoded event (what a batch signature covers).
pub fn signed_part(canonical: &[u8]) -> Option<(u8, &[u8])> {
    let op = *canonical.get(1)?;
    Some((op, canonical.get(HEADER_BYTES..)?))
}
