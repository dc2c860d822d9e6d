//! The event model: one RDF triple change, its time and its author.
//!
//! An [`Event`] is an `add` or `remove` of one triple, in the default graph or in a named graph
//! (as RDF Patch quads are), stamped with a hybrid-logical-clock time ([`hlc`]) and the
//! Ed25519 public key of the actor that published it. A [`Batch`] is what a publisher submits:
//! one transaction, optionally signed once by the actor over [`encoding::batch_signing_message`].
//!
//! This module knows nothing about storage: the log assigns sequence numbers and times; the
//! module only defines what an event *is* and its one canonical byte form ([`encoding`]).
//! Blank nodes never reach the log: [`skolem`] replaces them on admission.

pub mod cloudevents;
pub mod encoding;
pub mod hlc;
pub mod input;
pub mod rdf_patch;
pub mod skolem;

use oxrdf::Quad;

pub use encoding::{decode_event, encode_event};

/// Whether an event adds or removes its triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Add,
    Remove,
}

impl Op {
    /// The op's byte in the canonical encoding.
    pub fn byte(self) -> u8 {
        match self {
            Op::Add => 0x01,
            Op::Remove => 0x02,
        }
    }

    /// The lowercase name used in JSON and CLI output.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
        }
    }
}

impl std::str::FromStr for Op {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "add" | "A" => Ok(Op::Add),
            "remove" | "D" => Ok(Op::Remove),
            other => Err(EventError::UnknownOp(other.to_owned())),
        }
    }
}

/// An actor's Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorKey(pub [u8; 32]);

impl std::fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActorKey({})", hex::encode(self.0))
    }
}

/// One committed (or about to be committed) change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub op: Op,
    pub quad: Quad,
    /// Hybrid-logical-clock time, see [`hlc`].
    pub time: u64,
    pub actor: ActorKey,
}

impl Event {
    /// The canonical bytes (the Merkle leaf content).
    pub fn to_canonical(&self) -> Result<Vec<u8>, EventError> {
        let mut out = Vec::with_capacity(200);
        encode_event(self, &mut out)?;
        Ok(out)
    }
}

/// A publisher's Ed25519 signature over a batch's signing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSignature(pub [u8; 64]);

/// One transaction as submitted: every change, the actor, and optionally the actor's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub actor: ActorKey,
    pub changes: Vec<(Op, Quad)>,
    pub signature: Option<BatchSignature>,
}

impl Batch {
    /// An unsigned batch: the actor is asserted by whoever submits it (e.g. the node itself).
    pub fn unsigned(actor: ActorKey, changes: Vec<(Op, Quad)>) -> Self {
        Batch {
            actor,
            changes,
            signature: None,
        }
    }

    /// Signs the batch with the actor's key (`sign` maps a message to an Ed25519 signature).
    pub fn signed(
        actor: ActorKey,
        changes: Vec<(Op, Quad)>,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Result<Self, EventError> {
        let message = encoding::batch_signing_message(&actor, &changes)?;
        let signature = Some(BatchSignature(sign(&message)));
        Ok(Batch {
            actor,
            changes,
            signature,
        })
    }

    /// Checks the publisher signature, if any (~60 µs, once per batch).
    pub fn verify_signature(&self) -> Result<(), EventError> {
        let Some(BatchSignature(sig)) = &self.signature else {
            return Ok(());
        };
        let message = encoding::batch_signing_message(&self.actor, &self.changes)?;
        verify_ed25519(&self.actor, &message, sig)
    }
}

/// Verifies an Ed25519 signature (strict: no malleable encodings).
pub fn verify_ed25519(actor: &ActorKey, message: &[u8], sig: &[u8; 64]) -> Result<(), EventError> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(&actor.0)
        .map_err(|_| EventError::BadSignature("actor key is not a valid Ed25519 point".into()))?;
    let sig = ed25519_dalek::Signature::from_bytes(sig);
    key.verify_strict(message, &sig)
        .map_err(|_| EventError::BadSignature("signature does not match the batch".into()))
}

/// Errors of the event model: bad input, or bytes that are not a canonical event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    #[error("event of {bytes} bytes exceeds the limit of {max} bytes")]
    TooLarge { bytes: usize, max: usize },
    #[error("blank node reached the encoder; skolemize the batch first")]
    UnskolemizedBlankNode,
    #[error("unsupported term: {0}")]
    UnsupportedTerm(String),
    #[error("unknown op {0:?}: expected \"add\" or \"remove\"")]
    UnknownOp(String),
    #[error("not a canonical event at byte {offset}: {reason}")]
    Decode { offset: usize, reason: String },
    #[error("bad batch signature: {0}")]
    BadSignature(String),
    #[error(transparent)]
    Input(#[from] input::InputError),
}
