//! `ledgraph subscribe`: follow a server's `/v1/subscribe` event stream and print one line per
//! committed event (the JSON payload, or the RDF Patch row) as it arrives — or, with a topic,
//! one JSON line per alert of that topic.
//!
//! The server checks the pattern; the client only passes it on and reads the Server-Sent
//! Events. It does not reconnect by itself: on a dropped connection it reports the last
//! position printed, which `--from` (that position + 1) resumes after.

use std::io::{BufRead, BufReader, Read, Write};

use anyhow::{Context, bail};

use super::client::Client;

/// Longest SSE line accepted from the server (one event's data).
pub const SSE_LINE_BYTES_MAX: usize = 1 << 20;

/// What to subscribe to; `None` leaves a part of the pattern open.
#[derive(Debug, Default)]
pub struct SubscribeArgs {
    pub subject: Option<String>,
    pub predicate: Option<String>,
    pub object: Option<String>,
    pub op: Option<String>,
    /// An alert topic instead of a pattern.
    pub topic: Option<String>,
    pub from: Option<u64>,
    pub limit: Option<u64>,
    pub rdf_patch: bool,
}

pub fn run(server: &str, token: Option<&str>, args: &SubscribeArgs) -> anyhow::Result<()> {
    let client = Client::streaming(server, token)?;
    let mut query: Vec<(&str, String)> = Vec::new();
    for (key, value) in [
        ("s", &args.subject),
        ("p", &args.predicate),
        ("o", &args.object),
        ("op", &args.op),
        ("topic", &args.topic),
    ] {
        if let Some(v) = value {
            query.push((key, v.clone()));
        }
    }
    if let Some(from) = args.from {
        query.push(("from", from.to_string()));
    }
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    if args.rdf_patch {
        query.push(("format", "rdf-patch".to_owned()));
    }
    let response = client.get("/v1/subscribe", &query, "text/event-stream")?;
    let mut reader = BufReader::new(response.into_body().into_reader());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut last: Option<u64> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(SSE_LINE_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut line);
        let read = match read {
            Ok(n) => n,
            Err(e) => bail!("{}: {e}", dropped(last)),
        };
        if read == 0 {
            break;
        }
        if line.len() > SSE_LINE_BYTES_MAX {
            bail!("the server sent a line over {SSE_LINE_BYTES_MAX} bytes");
        }
        let text = std::str::from_utf8(&line).context("the event stream is not UTF-8")?;
        let text = text.trim_end_matches(['\r', '\n']);
        if let Some(id) = text.strip_prefix("id:") {
            last = id.trim().parse().ok();
        } else if let Some(data) = text.strip_prefix("data:") {
            let data = data.strip_prefix(' ').unwrap_or(data);
            writeln!(out, "{data}").context("writing to stdout")?;
            out.flush().context("writing to stdout")?;
        }
    }
    if args.limit.is_none() {
        bail!("{}", dropped(last));
    }
    Ok(())
}

fn dropped(last: Option<u64>) -> String {
    match last {
        Some(seq) => format!(
            "the stream ended after log position {seq} (resume with --from {})",
            seq + 1
        ),
        None => "the stream ended before any event".to_owned(),
    }
}
