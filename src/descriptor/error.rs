//! The errors of the compiler and of the loader, one enum each.

use std::path::PathBuf;

/// Why a compile failed. `Check` carries every problem the checker found, each naming the
/// rules, shapes or terms involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A Turtle syntax error (including an undefined prefix); `line` and `column` count from 1.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("too many {what} (at most {max})")]
    Limit { what: &'static str, max: u64 },
    /// The in-memory store or a query of queries/compiler/ failed (a bug, not bad input).
    #[error("extraction query {query}: {message}")]
    Extract {
        query: &'static str,
        message: String,
    },
    #[error("{} problem(s) in the inputs:\n{}", .0.len(), .0.iter().map(|p| format!("  error: {p}")).collect::<Vec<_>>().join("\n"))]
    Check(Vec<String>),
}

/// Why bytes are not a descriptor this build may run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("not a ledgraph descriptor (bad magic)")]
    BadMagic,
    #[error("descriptor format version {found}, this build reads {expected}")]
    Version { found: u32, expected: u32 },
    /// The file is damaged: an offset, a length, an alignment or a table is wrong.
    #[error("corrupt descriptor: {0}")]
    Corruption(String),
    /// The signature does not verify with the embedded key.
    #[error("bad signature: the descriptor was altered or not signed by its embedded key")]
    BadSignature,
    /// The signature is good but the key is not the one the caller trusts.
    #[error("signed by key {found}, expected {expected}")]
    WrongKey { found: String, expected: String },
    /// The buffer does not start on an 8-byte boundary (use [`super::AlignedBytes`]).
    #[error("descriptor bytes are not 8-byte aligned in memory")]
    Misaligned,
    #[error("descriptor larger than {max} bytes")]
    TooLarge { max: u64 },
}
