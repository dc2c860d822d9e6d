//! `ledgraph audit subject IRI --server URL`: a subject's history that can be trusted without
//! trusting the server.
//!
//! 1. The server's checkpoint must carry a valid signature by the log key (pinned with
//!    `--vkey`, or trust on first use, as `verify-remote`).
//! 2. The history is asked for *as of that checkpoint's size*
//!    (`GET /v1/queries/audit/subject-history?s=IRI&asOf=SIZE`), so every event listed must be
//!    in the signed tree.
//! 3. For each listed event: its inclusion proof must lead to the checkpoint's root, its
//!    entry must hash to the proven leaf and decode as a canonical event, and that event must
//!    say what the history row says (subject, op, predicate, object, graph, actor, time, leaf
//!    hash). Any failure is a [`super::verify_remote::VerifyFailed`] (exit code 3). Typed literals
//!    are compared by value where Oxigraph stores a canonical form (`"01"^^xsd:integer` is
//!    listed as `"1"`); the leaf hash pins the exact bytes anyway.
//!
//! What it does not prove: that the server listed *every* event about the subject — an
//! omission leaves no proof to check. Completeness needs the whole log (`ledgraph log
//! verify` on a copy, or `verify-remote` plus replay). Each event costs two requests; at
//! most [`AUDIT_EVENTS_MAX`] are checked.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use super::client::{Client, render_table};
use super::verify_remote::{check_inclusion, failed, verifier};
use crate::event::{Event, hlc};
use crate::log::checkpoint::{NOTE_BYTES_MAX, SignedCheckpoint};
use crate::store::as_of::time::parse_rfc3339_ms;

/// Most events one audit proves (two requests each).
pub const AUDIT_EVENTS_MAX: usize = 10_000;

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Print every event about a subject and prove each one is in the server's signed log.
    /// Exit code 3 when a proof or a row does not hold.
    Subject {
        /// The subject IRI (bare or in <…>).
        iri: String,
        /// The server, e.g. http://localhost:7878.
        #[arg(long, env = "LEDGRAPH_SERVER")]
        server: String,
        /// The log's verifier key (C2SP vkey line); default: ask the server (trust on first use).
        #[arg(long)]
        vkey: Option<std::path::PathBuf>,
        /// Bearer token with the read scope.
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

pub fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Subject {
            iri,
            server,
            vkey,
            token,
        } => audit_subject(&server, &iri, vkey.as_deref(), token.as_deref()),
    }
}

fn audit_subject(
    server: &str,
    iri: &str,
    vkey: Option<&Path>,
    token: Option<&str>,
) -> anyhow::Result<()> {
    let subject = iri
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(iri);
    let subject = oxrdf::NamedNode::new(subject).with_context(|| format!("<{subject}>"))?;
    let client = Client::new(server, token)?;
    let verifier = verifier(&client, vkey)?;
    let note = client.get_text("/v1/log/checkpoint", NOTE_BYTES_MAX as u64)?;
    let signed = SignedCheckpoint::verify(&note, &verifier)
        .map_err(|e| failed(format!("the server's checkpoint: {e}")))?;
    let (size, root) = (signed.checkpoint.size, signed.checkpoint.root);

    let results: Value = client.get_json(
        "/v1/queries/audit/subject-history",
        &[
            ("s", subject.as_str().to_owned()),
            ("asOf", size.to_string()),
        ],
    )?;
    let rows = results
        .pointer("/results/bindings")
        .and_then(Value::as_array)
        .context("the history is not SPARQL JSON results")?;
    if rows.len() > AUDIT_EVENTS_MAX {
        bail!(
            "{} events about {subject}: more than the {AUDIT_EVENTS_MAX} one audit proves",
            rows.len()
        );
    }
    print!("{}", render_table(&results)?);
    for row in rows {
        let seq = field(row, "seq")?
            .parse::<u64>()
            .context("?seq is not a log position")?;
        if seq >= size {
            return Err(failed(format!(
                "the history lists event {seq}, past the checkpoint's {size} events"
            )));
        }
        let event = check_inclusion(&client, seq, size, &root)?;
        check_row(row, seq, &subject, &event)?;
    }
    println!(
        "ok: {} events about {subject} proven in the log of {} at size {size} (root {}): each entry hashes to its proven leaf and says what its row says",
        rows.len(),
        signed.checkpoint.origin,
        hex::encode(root)
    );
    println!("note: this proves what is listed, not that nothing was left out");
    Ok(())
}

/// The `value` of a binding.
fn field<'a>(row: &'a Value, name: &str) -> anyhow::Result<&'a str> {
    row.pointer(&format!("/{name}/value"))
        .and_then(Value::as_str)
        .with_context(|| format!("a history row without ?{name}"))
}

/// A SPARQL JSON term as N-Triples (for comparing with the logged event's terms).
fn term(row: &Value, name: &str) -> Option<String> {
    let t = row.get(name)?;
    let value = t.get("value")?.as_str()?;
    Some(match t.get("type")?.as_str()? {
        "uri" => format!("<{value}>"),
        "bnode" => format!("_:{value}"),
        _ => {
            let quoted = oxrdf::Literal::new_simple_literal(value).to_string();
            match (
                t.get("xml:lang").and_then(Value::as_str),
                t.get("datatype").and_then(Value::as_str),
            ) {
                (Some(lang), _) => format!("{quoted}@{lang}"),
                (None, Some(dt)) if dt != "http://www.w3.org/2001/XMLSchema#string" => {
                    format!("{quoted}^^<{dt}>")
                }
                _ => quoted,
            }
        }
    })
}

/// The proven event must be the one the row describes.
fn check_row(
    row: &Value,
    seq: u64,
    subject: &oxrdf::NamedNode,
    event: &Event,
) -> anyhow::Result<()> {
    let mismatch = |what: &str, listed: &str, logged: &str| {
        failed(format!(
            "event {seq}: the history says {what} {listed}, the signed log says {logged}"
        ))
    };
    let q = &event.quad;
    if q.subject.to_string() != subject.to_string() {
        return Err(mismatch(
            "subject",
            &subject.to_string(),
            &q.subject.to_string(),
        ));
    }
    let checks = [
        (
            "op",
            field(row, "op")?.to_owned(),
            event.op.as_str().to_owned(),
        ),
        (
            "predicate",
            term(row, "p").unwrap_or_default(),
            q.predicate.to_string(),
        ),
        (
            "object",
            term(row, "o").unwrap_or_default(),
            q.object.to_string(),
        ),
        (
            "graph",
            term(row, "g").unwrap_or_default(),
            match &q.graph_name {
                oxrdf::GraphName::DefaultGraph => String::new(),
                other => other.to_string(),
            },
        ),
        (
            "actor",
            field(row, "actor")?.to_owned(),
            hex::encode(event.actor.0),
        ),
    ];
    for (what, listed, logged) in checks {
        if listed != logged && !(what == "object" && same_value(&listed, &logged)) {
            return Err(mismatch(what, &listed, &logged));
        }
    }
    let time = field(row, "time")?;
    let listed_ms =
        parse_rfc3339_ms(time).map_err(|e| failed(format!("event {seq}: time {time}: {e}")))?;
    let logged_ms = hlc::millis(event.time);
    if u64::try_from(listed_ms).ok() != Some(logged_ms) {
        return Err(mismatch("time", time, &hlc::rfc3339_from_ms(logged_ms)));
    }
    let leaf = hex::encode(crate::log::merkle::leaf_hash(
        &event
            .to_canonical()
            .map_err(|e| failed(format!("event {seq}: {e}")))?,
    ));
    let listed_leaf = field(row, "leafHash")?;
    if listed_leaf != leaf {
        return Err(mismatch("leaf hash", listed_leaf, &leaf));
    }
    Ok(())
}

/// Whether two typed literals (N-Triples) of the same datatype denote the same number: the
/// store lists numbers in canonical form, the log keeps the publisher's lexical form.
fn same_value(a: &str, b: &str) -> bool {
    let split = |t: &str| -> Option<(String, String)> {
        let literal: oxrdf::Literal = t.parse().ok()?;
        Some((
            literal.value().to_owned(),
            literal.datatype().as_str().to_owned(),
        ))
    };
    match (split(a), split(b)) {
        (Some((va, da)), Some((vb, db))) if da == db => {
            match (va.trim().parse::<f64>(), vb.trim().parse::<f64>()) {
                (Ok(x), Ok(y)) => x == y || (x.is_nan() && y.is_nan()),
                _ => va.trim() == vb.trim(),
            }
        }
        _ => false,
    }
}
