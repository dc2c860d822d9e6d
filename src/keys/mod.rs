//! The node's Ed25519 identity, in the key formats of C2SP signed notes, and
//! the two files that hold it in a data directory.
//!
//! A ledgraph node signs every checkpoint of its log with one Ed25519 key. The
//! key's *name* doubles as the log's origin (see [`crate::log::checkpoint`]),
//! so a node's identity is the pair (name, key). This module is responsible for
//! creating that identity, encoding it in the formats every signed-note
//! implementation understands (Go's `golang.org/x/mod/sumdb/note`,
//! `transparency-dev`, ...), and storing it safely.
//!
//! It deliberately does **not** parse or produce signed notes (that is
//! [`crate::log::checkpoint`]), support algorithms other than Ed25519, encrypt
//! the private key at rest (the file is protected by its 0600 mode only), or
//! rotate keys.
//!
//! # Formats (C2SP signed-note, <https://c2sp.org/signed-note>)
//!
//! * Key name: non-empty, no Unicode white space, no `+`. We additionally
//!   reject ASCII control characters, since such a name could never appear in
//!   a valid signed note.
//! * Key ID: the first 4 bytes of `SHA-256(name || 0x0A || 0x01 || public key)`,
//!   where `0x01` identifies Ed25519. Written as 8 lowercase hex digits.
//! * Verifier key (public, shareable): `<name>+<key ID>+<base64(0x01 || public key)>`
//! * Signer key (secret): `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>`,
//!   where `seed` is the 32-byte RFC 8032 private key.
//!
//! The example key from Go's `sumdb/note` tests:
//!
//! ```text
//! PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW
//! PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz
//! ```
//!
//! # Files in a data directory
//!
//! * [`SKEY_FILE`] (`node.key`): the signer key followed by `\n`, mode 0600.
//! * [`VKEY_FILE`] (`node.vkey`): the verifier key followed by `\n`. Optional
//!   for signing (it is derivable from `node.key`), but if present it must
//!   match, so that a node never signs with a key other than the one it has
//!   published. It is all a read-only verifier needs.
//!
//! Both are written to a temporary file, fsynced, renamed into place, and the
//! directory is fsynced, so a crash leaves either the old or the new key, never
//! a torn one. Callers are expected to hold the data directory's lock; creation
//! is not atomic against a concurrent creator.

use std::fmt;

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signed-note signature type byte for Ed25519.
pub const ALG_ED25519: u8 = 0x01;
/// File holding the signer key (secret) in a data directory.
pub const SKEY_FILE: &str = "node.key";
/// File holding the verifier key (public) in a data directory.
pub const VKEY_FILE: &str = "node.vkey";
/// Prefix of generated key names; see [`default_key_name`].
pub const DEFAULT_KEY_NAME_PREFIX: &str = "ledgraph.local/";

const SKEY_PREFIX: &str = "PRIVATE+KEY+";
/// Key files are a single short line; anything bigger is not a key file, and
/// we refuse to read it into memory.
const KEY_FILE_BYTES_MAX: u64 = 16 * 1024;

/// Errors about key material and key files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("cannot read or write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "key file {} does not exist; create the node's key first, or restore it from a backup",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error(
        "refusing to overwrite existing key file {}; a new key would invalidate every checkpoint signed so far",
        path.display()
    )]
    AlreadyExists { path: PathBuf },
    #[error("malformed key{}: {reason}", file_suffix(path.as_deref()))]
    Malformed {
        path: Option<PathBuf>,
        reason: String,
    },
    #[error(
        "{} and {} hold different keys; restore the matching pair from a backup, or delete {} to re-derive it from {}",
        skey_path.display(), vkey_path.display(), vkey_path.display(), skey_path.display()
    )]
    Mismatch {
        skey_path: PathBuf,
        vkey_path: PathBuf,
    },
    #[error("cannot obtain random bytes for a new key: {0}")]
    Random(String),
    #[error(
        "invalid key name {0:?}: it must be non-empty and contain no spaces, '+' or control characters"
    )]
    InvalidName(String),
}

fn file_suffix(path: Option<&Path>) -> String {
    path.map(|p| format!(" in {}", p.display()))
        .unwrap_or_default()
}

fn malformed(reason: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        path: None,
        reason: reason.into(),
    }
}

/// Where key material comes from; tests substitute a deterministic source.
pub trait RandomSource {
    /// Fills `buf` entirely with unpredictable bytes, or fails.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), KeyError>;
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), KeyError> {
        getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
    }
}

/// Whether `name` may be used as a signed-note key name.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_ascii_control())
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(KeyError::InvalidName(name.to_owned()))
    }
}

/// The signed-note key ID of an Ed25519 key:
/// `SHA-256(name || 0x0A || 0x01 || public_key)[..4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(public_key)
        .finalize();
    let mut id = [0; 4];
    id.copy_from_slice(&digest[..4]);
    id
}

/// The name given to a key when the operator does not choose one:
/// `ledgraph.local/` followed by the first 16 hex digits of SHA-256(public key).
/// C2SP recommends schema-less URLs as key names to avoid collisions; the
/// hash makes two nodes' default names differ.
pub fn default_key_name(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    format!("{DEFAULT_KEY_NAME_PREFIX}{}", hex::encode(&digest[..8]))
}

/// Overwrites secret bytes before their memory is released. Best effort: the
/// `black_box` keeps the compiler from discarding the stores as dead.
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// Parses the `<hex key id>` and `<base64(0x01 || key)>` fields shared by
/// signer and verifier keys. Returns the claimed key ID and the 32 key bytes.
fn parse_id_and_key(id_hex: &str, key_b64: &str) -> Result<([u8; 4], [u8; 32]), KeyError> {
    let mut id = [0; 4];
    if id_hex.len() != 8 || hex::decode_to_slice(id_hex, &mut id).is_err() {
        return Err(malformed(format!(
            "key ID {id_hex:?} is not 8 hexadecimal digits"
        )));
    }
    let mut raw = BASE64
        .decode(key_b64)
        .map_err(|e| malformed(format!("key material is not valid base64: {e}")))?;
    let key = match raw.split_first() {
        Some((&ALG_ED25519, key)) => <[u8; 32]>::try_from(key).map_err(|_| {
            malformed(format!(
                "Ed25519 key material is {} bytes, expected 32",
                key.len()
            ))
        }),
        Some((alg, _)) => Err(malformed(format!(
            "unsupported key algorithm 0x{alg:02x}; only Ed25519 (0x01) is supported"
        ))),
        None => Err(malformed("key material is empty")),
    };
    wipe(&mut raw);
    Ok((id, key?))
}

/// `<prefix><name>+<hex key ID>+<base64(0x01 || key)>`.
fn encode_key(prefix: &str, name: &str, id: [u8; 4], key: &[u8; 32]) -> String {
    let mut raw = [ALG_ED25519; 33];
    raw[1..].copy_from_slice(key);
    let s = format!("{prefix}{name}+{}+{}", hex::encode(id), BASE64.encode(raw));
    wipe(&mut raw);
    s
}

/// Splits `<name>+<key ID>+<key>`. Names contain no '+', so the first two
/// '+' are the separators; the base64 key after them may contain '+' too.
fn split_key(s: &str) -> Option<(&str, &str, &str)> {
    let (name, rest) = s.split_once('+')?;
    let (id, key) = rest.split_once('+')?;
    Some((name, id, key))
}

fn id_mismatch(found: &str, expected: [u8; 4]) -> KeyError {
    malformed(format!(
        "key ID {found} does not match the name and key (expected {}); one of them was altered",
        hex::encode(expected)
    ))
}

/// The node's signing identity: a key name and an Ed25519 private key.
///
/// `Debug` shows the name and public key only; the secret is never printed.
pub struct NodeKey {
    name: String,
    key_id: [u8; 4],
    // `SigningKey` zeroizes itself on drop (ed25519-dalek's default `zeroize`).
    signing: SigningKey,
}

impl NodeKey {
    /// Generates a fresh key named `name`, with the seed drawn from `rng`.
    pub fn generate(name: &str, rng: &mut dyn RandomSource) -> Result<Self, KeyError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        rng.fill(&mut seed)?;
        let key = Self::from_seed(name, seed);
        wipe(&mut seed);
        key
    }

    /// Builds the key whose RFC 8032 private key (seed) is `seed`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        check_name(name)?;
        let signing = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, signing.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signing,
        })
    }

    /// Parses a signer key, `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>`,
    /// checking that the key ID is the one the derived public key implies.
    pub fn parse_skey(s: &str) -> Result<Self, KeyError> {
        let rest = s
            .strip_prefix(SKEY_PREFIX)
            .ok_or_else(|| malformed("a signer key must start with \"PRIVATE+KEY+\""))?;
        let (name, id_hex, key_b64) = split_key(rest).ok_or_else(|| {
            malformed("a signer key has the form PRIVATE+KEY+<name>+<key ID>+<key>")
        })?;
        check_name(name)?;
        let (id, mut seed) = parse_id_and_key(id_hex, key_b64)?;
        let key = Self::from_seed(name, seed);
        wipe(&mut seed);
        let key = key?;
        if key.key_id != id {
            return Err(id_mismatch(id_hex, key.key_id));
        }
        Ok(key)
    }

    /// Encodes the signer key. The result is secret.
    pub fn to_skey(&self) -> String {
        encode_key(
            SKEY_PREFIX,
            &self.name,
            self.key_id,
            self.signing.as_bytes(),
        )
    }

    /// The key name, which is also the log origin.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The public half, for verifying this node's signatures.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.signing.verifying_key(),
        }
    }

    /// Signs `msg` (RFC 8032 Ed25519, deterministic).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .field("public_key", &BASE64.encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// A named Ed25519 public key that checks signed-note signatures.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Verifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl Verifier {
    /// Builds a verifier from a name and a raw public key, rejecting keys
    /// that are not canonical encodings of a point of large order.
    pub fn from_public_key(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| malformed("the public key is not a valid Ed25519 point"))?;
        // Non-canonical or small-order keys would never verify under
        // `verify_strict`; rejecting them here gives a clear error instead of
        // a mysterious verification failure later.
        if key.as_bytes() != public_key {
            return Err(malformed("the public key is not canonically encoded"));
        }
        if key.is_weak() {
            return Err(malformed("the public key is a weak (small-order) point"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, public_key),
            key,
        })
    }

    /// Parses a verifier key, `<name>+<key ID>+<base64(0x01 || public key)>`,
    /// checking the key ID.
    pub fn parse_vkey(s: &str) -> Result<Self, KeyError> {
        let (name, id_hex, key_b64) = split_key(s)
            .ok_or_else(|| malformed("a verifier key has the form <name>+<key ID>+<key>"))?;
        check_name(name)?;
        let (id, public_key) = parse_id_and_key(id_hex, key_b64)?;
        let v = Self::from_public_key(name, &public_key)?;
        if v.key_id != id {
            return Err(id_mismatch(id_hex, v.key_id));
        }
        Ok(v)
    }

    /// Encodes the verifier key.
    pub fn to_vkey(&self) -> String {
        encode_key("", &self.name, self.key_id, self.key.as_bytes())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Checks an Ed25519 signature of `msg`. Uses `verify_strict`, which
    /// rejects the malleable and small-order edge cases plain RFC 8032
    /// verification lets through, so that one note has one valid signature
    /// per key.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        self.key
            .verify_strict(msg, &Signature::from_bytes(sig))
            .is_ok()
    }
}

impl fmt::Display for Verifier {
    /// Formats as the verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

mod files;
pub use files::{create_key_files, load_key, load_or_create_key, load_verifier};
