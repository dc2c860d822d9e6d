//! `ledgraph shapes check|reload` and `ledgraph validate`: the SHACL shapes from the command
//! line. `check` loads shapes offline as `serve --shapes` would; the others are HTTP clients of
//! a running server (`POST /v1/shapes`, `POST /v1/validate`). Admission itself is
//! `crate::shapes`; this module only prints.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::Value;

use super::client::{Client, RESPONSE_BYTES_MAX, post_file, read_limited, result_lines};
use super::log_cmd::InputFormat;

#[derive(Subcommand, Debug)]
pub enum ShapesCommand {
    /// Load a shapes file or directory as `serve --shapes` would; print its sets, or where it
    /// is broken (file:line: reason).
    Check { path: PathBuf },
    /// Make a running server reload its shapes (POST /v1/shapes, admin token); with --file,
    /// send that Turtle document as the shapes instead.
    Reload {
        #[arg(long, env = "LEDGRAPH_SERVER")]
        server: String,
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

pub fn run(cmd: ShapesCommand) -> anyhow::Result<()> {
    match cmd {
        ShapesCommand::Check { path } => {
            let shapes = crate::shapes::Shapes::load(&path)?;
            println!("shapes {}", shapes.digest);
            for set in &shapes.sets {
                println!(
                    "  {} ({}, {} triples)",
                    set.name,
                    set.mode.as_str(),
                    set.graph.len()
                );
            }
            Ok(())
        }
        ShapesCommand::Reload {
            server,
            file,
            token,
        } => reload_shapes(&server, file.as_deref(), token.as_deref()),
    }
}

/// `ledgraph validate FILE --server URL`: `POST /v1/validate`, prints whether the batch
/// conforms and each result; a non-conforming batch is an error (exit code 1).
pub fn validate_remote(
    server: &str,
    file: &Path,
    format: Option<InputFormat>,
    token: Option<&str>,
) -> anyhow::Result<()> {
    let mut response = post_file(server, "/v1/validate", file, format, token)?;
    let body = read_limited(&mut response, RESPONSE_BYTES_MAX)?;
    let answer: Value =
        serde_json::from_slice(&body).context("the server's answer is not a validation report")?;
    let results = answer
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if answer.get("conforms").and_then(Value::as_bool) == Some(true) {
        println!("{}: conforms", file.display());
        return Ok(());
    }
    for line in result_lines(&results) {
        println!("{}: {line}", file.display());
    }
    bail!("{}: {} validation results", file.display(), results.len())
}

/// `ledgraph shapes reload --server URL [--file F]`: `POST /v1/shapes` (admin token).
fn reload_shapes(server: &str, file: Option<&Path>, token: Option<&str>) -> anyhow::Result<()> {
    let body = match file {
        Some(f) => std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        None => Vec::new(),
    };
    let client = Client::new(server, token)?;
    let mut response = client.post("/v1/shapes", "text/turtle", &body, "application/json")?;
    let body = read_limited(&mut response, RESPONSE_BYTES_MAX)?;
    let answer: Value = serde_json::from_slice(&body).context("the server's answer is not JSON")?;
    println!(
        "shapes {} ({})",
        answer.get("digest").and_then(Value::as_str).unwrap_or("?"),
        if answer.get("recorded").and_then(Value::as_bool) == Some(true) {
            "recorded in the log"
        } else {
            "unchanged"
        }
    );
    for set in answer
        .get("sets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!(
            "  {} ({}, {} triples)",
            set.get("name").and_then(Value::as_str).unwrap_or("?"),
            set.get("mode").and_then(Value::as_str).unwrap_or("?"),
            set.get("triples").and_then(Value::as_u64).unwrap_or(0)
        );
    }
    Ok(())
}
