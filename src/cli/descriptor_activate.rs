//! `ledgraph descriptor activate FILE --server URL`: sends a compiled descriptor to a server's
//! `POST /v1/descriptors/activate` (admin token), which records the activation in its log and
//! switches its kernel at that position. `--digest HEX` instead of a file re-activates one the
//! server recorded before (rollback).

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::client::Client;

/// Largest descriptor file read, in bytes (the server's limit is the same).
const DESCRIPTOR_FILE_BYTES_MAX: u64 = 16 << 20;

#[derive(clap::Args, Debug)]
pub struct ActivateArgs {
    /// The descriptor file (`ledgraph compile -o FILE`); omit with --digest.
    pub file: Option<PathBuf>,
    /// Re-activate the descriptor with this SHA-256 (hex) recorded by the server before.
    #[arg(long, conflicts_with = "file")]
    pub digest: Option<String>,
    /// Name to record for a new descriptor (default: the start of its digest).
    #[arg(long)]
    pub name: Option<String>,
    /// The server, e.g. http://localhost:8080.
    #[arg(long, env = "LEDGRAPH_SERVER")]
    pub server: String,
    /// Bearer token with the admin scope.
    #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(serde::Deserialize)]
struct Activated {
    digest: String,
    name: String,
    seq: u64,
    recorded: bool,
}

pub fn run(args: ActivateArgs) -> anyhow::Result<()> {
    let body = match (&args.file, &args.digest) {
        (Some(file), _) => {
            let len = std::fs::metadata(file)
                .with_context(|| format!("reading {}", file.display()))?
                .len();
            if len > DESCRIPTOR_FILE_BYTES_MAX {
                bail!(
                    "{}: {len} bytes; the limit is {DESCRIPTOR_FILE_BYTES_MAX}",
                    file.display()
                );
            }
            std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
        }
        (None, Some(_)) => Vec::new(),
        (None, None) => bail!("give a descriptor FILE, or --digest of one activated before"),
    };
    let mut query = Vec::new();
    if let Some(d) = &args.digest {
        query.push(format!(
            "digest={}",
            form_urlencoded::byte_serialize(d.as_bytes()).collect::<String>()
        ));
    }
    if let Some(n) = &args.name {
        query.push(format!(
            "name={}",
            form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
        ));
    }
    let path = if query.is_empty() {
        "/v1/descriptors/activate".to_owned()
    } else {
        format!("/v1/descriptors/activate?{}", query.join("&"))
    };
    let client = Client::new(&args.server, args.token.as_deref())?;
    let mut response = client.post(&path, "application/octet-stream", &body, "application/json")?;
    let bytes = super::client::read_limited(&mut response, 1 << 20)?;
    let answer: Activated =
        serde_json::from_slice(&bytes).context("the server's answer is not the expected JSON")?;
    if answer.recorded {
        println!(
            "activated {} ({}) at log position {}",
            answer.digest, answer.name, answer.seq
        );
    } else {
        println!("{} ({}) was already active", answer.digest, answer.name);
    }
    Ok(())
}
