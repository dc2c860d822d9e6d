//! `ledgraph log …` and `ledgraph demo`: append, verify, prove, show and export.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use oxrdf::GraphName;
use serde::Serialize;

use super::{open_for_reading, open_log, progress_bar};
use crate::event::cloudevents::{parse_cloudevent, parse_cloudevents_batch};
use crate::event::input::{parse_json_events, parse_nquads, parse_ntriples, parse_turtle};
use crate::event::rdf_patch::parse_rdf_patch;
use crate::event::skolem::{DEFAULT_GENID_BASE, Skolemizer};
use crate::event::{ActorKey, Batch, Event, Op};
use crate::keys::{self, RandomSource};
use crate::log::merkle;
use crate::log::verify::{VerifyOptions, verify_log};

#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Append a file as one transaction (N-Triples/N-Quads/Turtle = adds; JSON events, RDF
    /// Patch or CloudEvents = adds and removes).
    Append {
        file: PathBuf,
        /// Input format (default: from the file extension: .nt .nq .ttl .json .rdfp/.patch
        /// .ce.json).
        #[arg(long, value_enum)]
        format: Option<InputFormat>,
    },
    /// Recompute every hash, check every signature and checkpoint.
    Verify {
        /// A signed checkpoint seen earlier: prove the log extends it.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inclusion and consistency proofs, as JSON (hashes base64, RFC 9162 order).
    #[command(subcommand)]
    Proof(ProofCommand),
    /// Print the latest signed checkpoint (a C2SP signed note).
    Checkpoint,
    /// Print events.
    Show {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
    /// Export the log as RDF Patch (every event, one TX/TC per transaction), or the current
    /// state as N-Quads (built in memory).
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProofCommand {
    /// Prove that event SEQ is in the tree of SIZE events (default: the latest checkpoint).
    Inclusion {
        #[arg(long)]
        seq: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Prove that the tree of FROM events is a prefix of the tree of TO events.
    Consistency {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    Nt,
    Nq,
    Ttl,
    Json,
    /// RDF Patch (TX/TC/TA, PA/PD, A/D rows).
    Patch,
    /// One CloudEvent (JSON object) or a batch of them (JSON array).
    Cloudevents,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormat {
    RdfPatch,
    Nquads,
}

pub fn run(data: &Path, cmd: LogCommand) -> anyhow::Result<()> {
    match cmd {
        LogCommand::Append { file, format } => append(data, &file, format),
        LogCommand::Verify {
            trusted_checkpoint,
            json,
        } => verify(data, trusted_checkpoint.as_deref(), json),
        LogCommand::Proof(ProofCommand::Inclusion { seq, size }) => {
            let proof = open_for_reading(data)?.inclusion_proof(seq, size)?;
            print_json(&proof)
        }
        LogCommand::Proof(ProofCommand::Consistency { from, to }) => {
            let proof = open_for_reading(data)?.consistency_proof(from, to)?;
            print_json(&proof)
        }
        LogCommand::Checkpoint => {
            print!("{}", open_for_reading(data)?.checkpoint().note);
            Ok(())
        }
        LogCommand::Show {
            from,
            limit,
            format,
        } => show(data, from, limit, format),
        LogCommand::Export { format } => export(data, format),
    }
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn detect_format(file: &Path) -> anyhow::Result<InputFormat> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.ends_with(".ce.json") {
        return Ok(InputFormat::Cloudevents);
    }
    match file.extension().and_then(|e| e.to_str()) {
        Some("rdfp" | "patch") => Ok(InputFormat::Patch),
        Some("nt") => Ok(InputFormat::Nt),
        Some("nq") => Ok(InputFormat::Nq),
        Some("ttl") => Ok(InputFormat::Ttl),
        Some("json") => Ok(InputFormat::Json),
        _ => bail!(
            "cannot tell the format of {} from its extension; pass --format",
            file.display()
        ),
    }
}

/// Parses input into changes, naming the file in any error.
pub fn parse_input(
    file: &Path,
    bytes: &[u8],
    format: InputFormat,
) -> anyhow::Result<Vec<(Op, oxrdf::Quad)>> {
    let parsed = match format {
        InputFormat::Nt => parse_ntriples(bytes),
        InputFormat::Nq => parse_nquads(bytes),
        InputFormat::Ttl => parse_turtle(bytes),
        InputFormat::Json => parse_json_events(bytes),
        InputFormat::Patch => parse_rdf_patch(bytes),
        InputFormat::Cloudevents if is_json_array(bytes) => parse_cloudevents_batch(bytes),
        InputFormat::Cloudevents => parse_cloudevent(bytes),
    };
    parsed.map_err(|e| anyhow::anyhow!("{}:{e}", file.display()))
}

/// Whether JSON text starts with `[` (a CloudEvents batch rather than one event).
pub fn is_json_array(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// The node's own unsigned batch, with blank nodes skolemized.
fn node_batch(data: &Path, changes: Vec<(Op, oxrdf::Quad)>) -> anyhow::Result<Batch> {
    let key = keys::load_key(data)?;
    let mut nonce = [0u8; 16];
    keys::OsRandom.fill(&mut nonce)?;
    let changes = Skolemizer::new(DEFAULT_GENID_BASE, nonce).changes(changes);
    Ok(Batch::unsigned(ActorKey(key.public_key()), changes))
}

fn append(data: &Path, file: &Path, format: Option<InputFormat>) -> anyhow::Result<()> {
    let format = match format {
        Some(f) => f,
        None => detect_format(file)?,
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let changes = parse_input(file, &bytes, format)?;
    if changes.is_empty() {
        bail!("{}: no events in the input", file.display());
    }
    let log = open_log(data)?;
    let ack = log.append(node_batch(data, changes)?)?;
    println!(
        "appended {} events (seq {}..{}); checkpoint size {}",
        ack.count,
        ack.first_seq,
        ack.first_seq + ack.count - 1,
        ack.checkpoint.checkpoint.size
    );
    log.close()?;
    Ok(())
}

fn verify(data: &Path, trusted: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let verifier = keys::load_verifier(data)?;
    let trusted_note = match trusted {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    let bar = progress_bar(0, "verifying");
    let progress = |n: u64| bar.set_position(n);
    let options = VerifyOptions {
        trusted_checkpoint: trusted_note.as_deref(),
        progress: Some(&progress),
    };
    let report = verify_log(data, &verifier, &options)?;
    bar.finish_and_clear();
    if json {
        return print_json(&report);
    }
    println!(
        "ok: {} events in {} transactions, {} segments; {} checkpoints and {} signed batches verified; root {}",
        report.events,
        report.transactions,
        report.segments,
        report.checkpoints,
        report.signed_batches,
        hex::encode(report.root)
    );
    if let Some(size) = report.trusted_size {
        println!("ok: the log extends the trusted checkpoint of size {size}");
    }
    if report.derived_behind {
        println!(
            "note: the index and tree files stop short of the log (a crash); the next open rebuilds them"
        );
    }
    if report.torn_tail_bytes > 0 {
        println!(
            "note: {} bytes of an unacknowledged torn tail will be truncated on the next open",
            report.torn_tail_bytes
        );
    }
    Ok(())
}

/// One event as `log show --format json` prints it.
#[derive(Serialize)]
pub struct ShownEvent {
    pub seq: u64,
    pub op: &'static str,
    pub s: String,
    pub p: String,
    pub o: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub g: Option<String>,
    pub time: u64,
    pub actor: String,
    pub canonical: String,
    pub leaf_hash: String,
}

fn shown(seq: u64, bytes: &[u8], event: &Event) -> ShownEvent {
    let q = &event.quad;
    ShownEvent {
        seq,
        op: event.op.as_str(),
        s: q.subject.to_string(),
        p: q.predicate.to_string(),
        o: q.object.to_string(),
        g: match &q.graph_name {
            GraphName::DefaultGraph => None,
            g => Some(g.to_string()),
        },
        time: event.time,
        actor: hex::encode(event.actor.0),
        canonical: hex::encode(bytes),
        leaf_hash: hex::encode(merkle::leaf_hash(bytes)),
    }
}

fn show(data: &Path, from: u64, limit: u64, format: ShowFormat) -> anyhow::Result<()> {
    let log = open_for_reading(data)?;
    let end = from.saturating_add(limit).min(log.size());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for seq in from..end {
        let bytes = log.entry(seq)?;
        let event = crate::event::decode_event(&bytes)?;
        let row = shown(seq, &bytes, &event);
        if format == ShowFormat::Json {
            writeln!(out, "{}", serde_json::to_string(&row)?)?;
        } else {
            let g = row
                .g
                .as_deref()
                .map(|g| format!(" {g}"))
                .unwrap_or_default();
            writeln!(
                out,
                "{:>8} {:<6} {} {} {}{g}  time={} actor={}",
                seq,
                row.op,
                row.s,
                row.p,
                row.o,
                row.time,
                &row.actor[..16]
            )?;
        }
    }
    Ok(())
}

fn quad_line(q: &oxrdf::Quad) -> String {
    match &q.graph_name {
        GraphName::DefaultGraph => format!("{} {} {}", q.subject, q.predicate, q.object),
        g => format!("{} {} {} {g}", q.subject, q.predicate, q.object),
    }
}

fn export(data: &Path, format: ExportFormat) -> anyhow::Result<()> {
    let log = open_for_reading(data)?;
    let size = log.size();
    let bar = progress_bar(size, "exporting");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut state = BTreeSet::new();
    for seq in 0..size {
        if matches!(format, ExportFormat::RdfPatch)
            && (seq == 0 || log.ends_transaction(seq - 1)?)
        {
            writeln!(out, "TX .")?;
        }
        let event = crate::event::decode_event(&log.entry(seq)?)?;
        let line = quad_line(&event.quad);
        match (format, event.op) {
            (ExportFormat::RdfPatch, Op::Add) => writeln!(out, "A {line} .")?,
            (ExportFormat::RdfPatch, Op::Remove) => writeln!(out, "D {line} .")?,
            (ExportFormat::Nquads, Op::Add) => {
                state.insert(line);
            }
            (ExportFormat::Nquads, Op::Remove) => {
                state.remove(&line);
            }
        }
        if matches!(format, ExportFormat::RdfPatch) && log.ends_transaction(seq)? {
            writeln!(out, "TC .")?;
        }
        if seq % 4096 == 0 {
            bar.set_position(seq);
        }
    }
    for line in state {
        writeln!(out, "{line} .")?;
    }
    bar.finish_and_clear();
    Ok(())
}

/// `ledgraph demo`: the main job until the server exists.
pub fn demo(data: &Path) -> anyhow::Result<()> {
    let log = open_log(data)?;
    if log.size() == 0 {
        let actor = ActorKey(keys::load_key(data)?.public_key());
        for (name, ack) in crate::demo::append_demo_ontologies(&log, actor)? {
            println!(
                "appended ontology/{name}: {} events from seq {}",
                ack.count, ack.first_seq
            );
        }
    }
    let size = log.size();
    let proof = log.inclusion_proof(size - 1, None)?;
    merkle::verify_inclusion(
        &proof.leaf_hash,
        proof.index,
        proof.size,
        &proof.hashes,
        &proof.root,
    )
    .map_err(|e| anyhow::anyhow!("inclusion proof failed: {e}"))?;
    println!(
        "inclusion proof of event {} in the tree of {} events: verified",
        proof.index, proof.size
    );
    println!("latest checkpoint:\n{}", log.checkpoint().note);
    log.close()?;
    let verifier = keys::load_verifier(data)?;
    let report = verify_log(data, &verifier, &VerifyOptions::default())?;
    println!(
        "log verify: ok, {} events, root {}",
        report.events,
        hex::encode(report.root)
    );
    println!("data directory: {}", data.display());
    Ok(())
}
