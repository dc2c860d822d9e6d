//! `ledgraph serve`: flags, environment variables and a TOML file, merged in that order of
//! precedence (flag > env > file > default), then the server until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::http::auth::Tokens;
use crate::http::server::{self, ServerConfig};

/// Shapes loaded when no `--shapes` is given, if the directory exists.
pub const DEFAULT_SHAPES_DIR: &str = "shapes";

/// Options of `ledgraph serve`; each is also `LEDGRAPH_<NAME>` and a key of the `--config` file.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML file with any of these options (keys as the flags, with underscores), and `data`.
    #[arg(long, env = "LEDGRAPH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7878). A non-loopback address needs tokens.
    #[arg(long, env = "LEDGRAPH_BIND")]
    pub bind: Option<SocketAddr>,
    /// Tokens file (TOML: [[token]] name, secret, scopes = ["read"|"publish"|"admin"]).
    /// LEDGRAPH_TOKENS="secret=scope,scope;…" adds more.
    #[arg(long, env = "LEDGRAPH_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,
    /// Largest request body, in bytes (default 64 MiB).
    #[arg(long, env = "LEDGRAPH_REQUEST_BODY_BYTES_MAX")]
    pub request_body_bytes_max: Option<usize>,
    /// Query time limit in milliseconds (default 30000).
    #[arg(long, env = "LEDGRAPH_QUERY_TIMEOUT_MS")]
    pub query_timeout_ms: Option<u64>,
    /// Most changes one SPARQL Update or Graph Store write may make (default 1000000).
    #[arg(long, env = "LEDGRAPH_UPDATE_CHANGES_MAX")]
    pub update_changes_max: Option<usize>,
    /// asOf queries: most events past the event graph's cursor read from the log per query
    /// (default 100000; above it the query waits for the event-graph projection).
    #[arg(long, env = "LEDGRAPH_AS_OF_UNINDEXED_EVENTS_MAX")]
    pub as_of_unindexed_events_max: Option<u64>,
    /// asOf queries: most events one indexed lookup collects before falling back to a
    /// subject-by-subject scan (default 1000000).
    #[arg(long, env = "LEDGRAPH_AS_OF_CANDIDATE_EVENTS_MAX")]
    pub as_of_candidate_events_max: Option<usize>,
    /// Authority for Skolem IRIs of blank nodes (default https://ledgraph.local).
    #[arg(long, env = "LEDGRAPH_GENID_BASE")]
    pub genid_base: Option<String>,
    /// Do not append the demo ontologies to an empty log.
    #[arg(long, env = "LEDGRAPH_NO_DEMO")]
    pub no_demo: bool,
    /// SHACL shapes: a Turtle file or a directory of them (default `shapes/` when it exists).
    /// Every batch is validated against them before it is appended.
    #[arg(long, env = "LEDGRAPH_SHAPES")]
    pub shapes: Option<PathBuf>,
    /// Admit every batch without SHACL validation, even if `shapes/` exists.
    #[arg(long, env = "LEDGRAPH_NO_SHAPES")]
    pub no_shapes: bool,
    /// The built web UI (`npm run build` in web/; default web/dist of this checkout).
    #[arg(long, env = "LEDGRAPH_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    data: Option<PathBuf>,
    bind: Option<SocketAddr>,
    tokens_file: Option<PathBuf>,
    request_body_bytes_max: Option<usize>,
    query_timeout_ms: Option<u64>,
    update_changes_max: Option<usize>,
    as_of_unindexed_events_max: Option<u64>,
    as_of_candidate_events_max: Option<usize>,
    genid_base: Option<String>,
    no_demo: Option<bool>,
    shapes: Option<PathBuf>,
    no_shapes: Option<bool>,
    web_dir: Option<PathBuf>,
}

fn read_file(path: &Path) -> anyhow::Result<ServeFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}", path.display()))
}

/// Merges flags/env (`args`, `data`) over the file over the defaults.
pub fn resolve(data: Option<PathBuf>, args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let file = match &args.config {
        Some(path) => read_file(path)?,
        None => ServeFile::default(),
    };
    let data = data
        .or(file.data)
        .unwrap_or_else(|| PathBuf::from(super::DEFAULT_DATA_DIR));
    let mut config = ServerConfig::new(data);
    if let Some(bind) = args.bind.or(file.bind) {
        config.bind = bind;
    }
    let limits = &mut config.limits;
    if let Some(v) = args.request_body_bytes_max.or(file.request_body_bytes_max) {
        limits.request_body_bytes_max = v;
    }
    if let Some(v) = args.query_timeout_ms.or(file.query_timeout_ms) {
        limits.query_timeout_ms = v;
    }
    if let Some(v) = args.update_changes_max.or(file.update_changes_max) {
        limits.update_changes_max = v;
    }
    if let Some(v) = args
        .as_of_unindexed_events_max
        .or(file.as_of_unindexed_events_max)
    {
        limits.as_of.unindexed_events_max = v;
    }
    if let Some(v) = args
        .as_of_candidate_events_max
        .or(file.as_of_candidate_events_max)
    {
        limits.as_of.candidate_events_max = v;
    }
    if let Some(v) = args.genid_base.clone().or(file.genid_base) {
        config.genid_base = v;
    }
    config.demo_data = !(args.no_demo || file.no_demo.unwrap_or(false));
    config.shapes = if args.no_shapes || file.no_shapes.unwrap_or(false) {
        None
    } else {
        match args.shapes.clone().or(file.shapes) {
            Some(path) => Some(path),
            None => Some(PathBuf::from(DEFAULT_SHAPES_DIR)).filter(|p| p.exists()),
        }
    };
    if let Some(dir) = args.web_dir.clone().or(file.web_dir) {
        config.web_dir = dir;
    }
    let mut tokens = match args.tokens_file.clone().or(file.tokens_file) {
        Some(path) => Tokens::from_file(&path)?,
        None => Tokens::default(),
    };
    if let Ok(value) = std::env::var("LEDGRAPH_TOKENS") {
        tokens.add_from_env_value(&value)?;
    }
    config.tokens = tokens;
    Ok(config)
}

pub fn run(data: Option<PathBuf>, args: &ServeArgs) -> anyhow::Result<()> {
    let config = resolve(data, args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ledgraph-http")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let opened = server::open(&config)?;
        let size = opened.state.log.size();
        let data = config.data.display().to_string();
        let web_built = config.web_dir.join("index.html").is_file();
        let web_dir = config.web_dir.display().to_string();
        let result = server::serve(&config, opened, server::shutdown_signal(), |addr| {
            println!("ledgraph serving {data} (log: {size} events)");
            println!("web UI:          http://{addr}/");
            if !web_built {
                eprintln!(
                    "note: the web UI is not built (no index.html in {web_dir}): run `npm ci && npm run build` in web/"
                );
            }
            println!("SPARQL endpoint: http://{addr}/sparql");
            println!("publish events:  POST http://{addr}/v1/events");
        })
        .await;
        result?;
        eprintln!("ledgraph stopped cleanly");
        anyhow::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_limits_come_from_flags_over_the_config_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("serve.toml");
        std::fs::write(
            &file,
            "as_of_unindexed_events_max = 7\nas_of_candidate_events_max = 9\n",
        )
        .expect("write config");
        let args = ServeArgs {
            config: Some(file),
            as_of_candidate_events_max: Some(11),
            ..ServeArgs::default()
        };
        let config = resolve(Some(dir.path().join("data")), &args).expect("resolve");
        assert_eq!(config.limits.as_of.unindexed_events_max, 7);
        assert_eq!(config.limits.as_of.candidate_events_max, 11);
    }
}
