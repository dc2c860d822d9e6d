//! Descriptors: an ontology, its SHACL shapes and its rules compiled into the kernel's tables,
//! in a signed binary file (docs/descriptor-format.md), and the loader that reads one back.
//!
//! The compiler is a pipeline, one module per stage: [`parse`] (Turtle with `rio_turtle`,
//! errors with file:line:column) → [`extract`] (an in-memory Oxigraph store queried with the
//! SPARQL of `queries/compiler/`) → [`check`] (undefined terms, unsatisfiable guards,
//! conflicting rules, rule cycles) → [`lower`] (axioms as rules, chains precomputed) →
//! [`build`] (interned ids, dispatch, class bitsets, guards, action templates, hot/warm) →
//! [`format`] (sections, Ed25519 signature). [`report`] renders what it did, [`inspect`] what
//! a file holds. Same inputs, compiler version and key ⇒ the same bytes.
//!
//! The loader ([`load`]) needs none of the compiler (no Oxigraph), so the fuzz target builds
//! without the `server` feature.

pub mod error;
pub mod format;
pub mod load;

#[cfg(feature = "server")]
pub mod build;
#[cfg(feature = "server")]
pub mod check;
#[cfg(feature = "server")]
pub mod eval;
#[cfg(feature = "server")]
pub mod extract;
pub mod inspect;
#[cfg(feature = "server")]
pub mod lower;
#[cfg(feature = "server")]
pub mod parse;
#[cfg(feature = "server")]
pub mod report;
#[cfg(feature = "server")]
pub mod schema;

pub use error::{CompileError, LoadError};
pub use load::{AlignedBytes, Descriptor};

#[cfg(feature = "server")]
pub use compile_impl::{Compiled, compile, compile_paths};

#[cfg(feature = "server")]
mod compile_impl {
    use std::path::Path;

    use super::error::CompileError;
    use super::format::{self, section};
    use super::parse::{self, Source};
    use super::{build, check, extract, lower, report, schema};
    use crate::kernel::program::as_bytes;
    use crate::keys::NodeKey;

    /// A compiled, signed descriptor.
    #[derive(Debug, Clone)]
    pub struct Compiled {
        pub bytes: Vec<u8>,
        /// The compile report (also stored in the file).
        pub report: String,
        /// SHA-256 of `bytes`.
        pub digest: [u8; 32],
    }

    /// Reads every `*.ttl` of each path (a file or a directory) and compiles them.
    pub fn compile_paths(paths: &[&Path], key: &NodeKey) -> Result<Compiled, CompileError> {
        let mut sources = Vec::new();
        for path in paths {
            sources.extend(parse::read_sources(path)?);
        }
        compile(&sources, key)
    }

    /// Runs the whole pipeline on `sources` and signs the result with `key`.
    pub fn compile(sources: &[Source], key: &NodeKey) -> Result<Compiled, CompileError> {
        let parsed = parse::parse(sources)?;
        let input_digest = parse::input_digest(&parsed.triples);
        // Shape sets in warn or off mode must not refuse events: leave them out of the store.
        let skipped = parsed.non_enforcing_files();
        let kept: Vec<oxrdf::Triple> = parsed
            .files
            .iter()
            .filter(|(name, _)| !skipped.contains(&name.as_str()))
            .flat_map(|(_, range)| parsed.triples[range.clone()].iter().cloned())
            .collect();
        let store = extract::load(&kept)?;
        drop(kept);
        let model = extract::extract(&store)?;
        drop(store);
        let schema = schema::Schema::new(&model);
        let mut checked = check::check(&model, &schema)?;
        let (effective, chain_warnings) = lower::effective_rules(&checked, &model, &schema)?;
        checked.warnings.extend(chain_warnings);
        checked.warnings.extend(skipped.iter().map(|name| {
            format!(
                "{}: a shape set in lg:warn or lg:off mode is not compiled (rudof reports it)",
                report::label(name)
            )
        }));
        checked.warnings.sort();
        let built = build::build(&model, &schema, &checked, &effective)?;
        let text = report::render(&report::Facts {
            sources,
            triples: parsed.triples.len(),
            input_digest: &input_digest,
            model: &model,
            checked: &checked,
            effective: &effective,
            built: &built,
        });
        let p = &built.program;
        let messages: Vec<u32> = built
            .messages
            .iter()
            .flat_map(|m| [m.kind, m.index, m.message])
            .collect();
        let header = [p.header];
        let sections: [(u32, &[u8]); 12] = [
            (section::PROGRAM_HEADER, as_bytes(&header[..])),
            (section::DISPATCH, as_bytes(p.dispatch.as_slice())),
            (section::GUARDS, as_bytes(p.guards.as_slice())),
            (section::RULES, as_bytes(p.rules.as_slice())),
            (section::ACTIONS, as_bytes(p.actions.as_slice())),
            (section::SETS, as_bytes(p.sets.as_slice())),
            (section::CLASS_CLOSURE, as_bytes(p.class_closure.as_slice())),
            (section::WARM, as_bytes(p.warm.as_slice())),
            (section::TERM_OFFSETS, as_bytes(p.term_offsets.as_slice())),
            (section::TERM_BYTES, &p.term_bytes),
            (section::MESSAGES, as_bytes(messages.as_slice())),
            (section::REPORT, text.as_bytes()),
        ];
        let bytes = format::write(&input_digest, &sections, key);
        let digest = format::digest(&bytes);
        Ok(Compiled {
            bytes,
            report: text,
            digest,
        })
    }
}
