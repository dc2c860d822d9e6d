//! `ledgraph compile` and `ledgraph descriptor inspect|verify|diff`: the descriptor compiler
//! and loader (`crate::descriptor`) from the command line. This module only reads files,
//! calls the library and prints.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::descriptor::{self, AlignedBytes, Descriptor};
use crate::keys::{NodeKey, Verifier};

/// Largest key file read, in bytes.
const KEY_FILE_BYTES_MAX: u64 = 16 * 1024;

#[derive(Args, Debug)]
pub struct CompileArgs {
    /// Ontology and rule files: Turtle files or directories of them (`*.ttl`, not recursing).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// SHACL shapes: a Turtle file or a directory of them.
    #[arg(long)]
    pub shapes: Vec<PathBuf>,
    /// Where to write the descriptor.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// The signer key file (C2SP signed-note `PRIVATE+KEY+…` line, e.g. a data directory's
    /// node.key).
    #[arg(long)]
    pub key: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum DescriptorCommand {
    /// Print every table of a descriptor, with ids resolved to terms.
    Inspect { file: PathBuf },
    /// Check a descriptor's signature and structure; with --vkey, that the given key signed it.
    Verify {
        file: PathBuf,
        /// Verifier key file (C2SP `name+id+key` line).
        #[arg(long)]
        vkey: Option<PathBuf>,
    },
    /// What changed between two descriptors (terms, admission guards, rules).
    Diff { a: PathBuf, b: PathBuf },
    /// Activate a descriptor on a server (recorded in its log), or re-activate an earlier one.
    Activate(super::descriptor_activate::ActivateArgs),
}

fn read_small(path: &Path) -> anyhow::Result<String> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > KEY_FILE_BYTES_MAX {
        bail!("{} is larger than a key file ({len} bytes)", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// `ledgraph compile`.
pub fn compile(args: &CompileArgs) -> anyhow::Result<()> {
    let key = NodeKey::parse_skey(read_small(&args.key)?.trim())
        .with_context(|| format!("{} is not a signer key", args.key.display()))?;
    let paths: Vec<&Path> = args
        .inputs
        .iter()
        .chain(&args.shapes)
        .map(PathBuf::as_path)
        .collect();
    let compiled = descriptor::compile_paths(&paths, &key)?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.output, &compiled.bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    print!("{}", compiled.report);
    println!(
        "wrote {} ({} bytes, sha256:{})",
        args.output.display(),
        compiled.bytes.len(),
        hex::encode(compiled.digest)
    );
    Ok(())
}

fn read_descriptor(path: &Path) -> anyhow::Result<AlignedBytes> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > descriptor::format::DESCRIPTOR_BYTES_MAX {
        bail!("{} is larger than a descriptor may be", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(AlignedBytes::copy_from(&bytes))
}

fn load<'a>(
    path: &Path,
    bytes: &'a AlignedBytes,
    trusted: Option<&Verifier>,
) -> anyhow::Result<Descriptor<'a>> {
    Descriptor::load(bytes.as_bytes(), trusted)
        .with_context(|| format!("{} refused", path.display()))
}

/// `ledgraph descriptor …`.
pub fn run(cmd: DescriptorCommand) -> anyhow::Result<()> {
    match cmd {
        DescriptorCommand::Activate(args) => super::descriptor_activate::run(args)?,
        DescriptorCommand::Inspect { file } => {
            let bytes = read_descriptor(&file)?;
            print!("{}", descriptor::inspect::dump(&load(&file, &bytes, None)?));
        }
        DescriptorCommand::Verify { file, vkey } => {
            let trusted = match vkey {
                Some(path) => Some(
                    Verifier::parse_vkey(read_small(&path)?.trim())
                        .with_context(|| format!("{} is not a verifier key", path.display()))?,
                ),
                None => None,
            };
            let bytes = read_descriptor(&file)?;
            let d = load(&file, &bytes, trusted.as_ref())?;
            println!("ok sha256:{}", hex::encode(d.digest()));
            println!(
                "signed by {}{}",
                hex::encode(d.public_key()),
                if trusted.is_some() {
                    " (the trusted key)"
                } else {
                    " (embedded key; pass --vkey to pin it)"
                }
            );
            let program = d.program();
            let h = program.header();
            println!(
                "{} terms, {} classes, {} rules",
                h.term_count,
                h.class_count,
                program.parts().rules.len()
            );
        }
        DescriptorCommand::Diff { a, b } => {
            let (ba, bb) = (read_descriptor(&a)?, read_descriptor(&b)?);
            print!(
                "{}",
                descriptor::inspect::diff(&load(&a, &ba, None)?, &load(&b, &bb, None)?)
            );
        }
    }
    Ok(())
}
