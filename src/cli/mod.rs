//! The command line: argument parsing, opening a data directory, and error reporting.
//!
//! Every command takes `--data DIR` (default `./ledgraph-data`, or `LEDGRAPH_DATA`). Errors are
//! printed as one line starting with `error:`; the exit code is 1 for bad input or I/O, 2 for
//! usage errors (clap), and 3 when verification finds damage or tampering (locally, or on a
//! server audited with `verify-remote` or `audit`). `publish`, `query --server`, `audit` and
//! `verify-remote` are HTTP clients of a running server ([`client`]).

mod as_of_cmd;
mod audit_cmd;
pub mod backup_cmd;
pub mod client;
mod compile_cmd;
mod descriptor_activate;
mod log_cmd;
mod migrate_cmd;
mod queries_cmd;
mod receipts_cmd;
mod replay_select_cmd;
mod serve;
mod shapes_cmd;
pub mod store_cmd;
mod subscribe_cmd;
pub mod verify_remote;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::event::hlc::SystemClock;
use crate::keys::{self, OsRandom};
use crate::log::{Log, LogConfig, LogError, LogReader};

/// Exit code when verification fails (damage or tampering found).
pub const EXIT_VERIFY_FAILED: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "ledgraph",
    version,
    about = "An event-sourced, verifiable knowledge graph"
)]
pub struct Cli {
    /// Data directory (node key, log, projections) [default: ./ledgraph-data].
    #[arg(long, global = true, env = "LEDGRAPH_DATA")]
    pub data: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the node's signing key (node.key) and its verifier key (node.vkey).
    Keygen {
        /// Key name, which is also the log's checkpoint origin (default: ledgraph.local/<key hash>).
        #[arg(long)]
        name: Option<String>,
        /// Replace an existing key (the old log's checkpoints will no longer verify).
        #[arg(long)]
        force: bool,
    },
    /// The signed event log.
    #[command(subcommand)]
    Log(log_cmd::LogCommand),
    /// The kernel's receipts in the local log.
    #[command(subcommand)]
    Receipts(receipts_cmd::ReceiptsCommand),
    /// Compile ontologies, shapes and rules into a signed descriptor for the kernel.
    Compile(compile_cmd::CompileArgs),
    /// Compiled descriptors: inspect, verify, diff.
    #[command(subcommand)]
    Descriptor(compile_cmd::DescriptorCommand),
    /// Append the demo ontologies to a fresh log, verify it, and prove an event's inclusion.
    Demo,
    /// Serve the SPARQL endpoint, the publish API and the log over HTTP.
    Serve(serve::ServeArgs),
    /// Rebuild a store from the log into an empty directory: the state, and with
    /// --event-graph the event graph (otherwise projected later, in the background by
    /// `serve` or at once by `store hash --store DIR`).
    Replay {
        /// The new store's directory (must be empty or absent).
        #[arg(long)]
        into: PathBuf,
        /// Replay only the events this selection query returns as ?seq (a file, or a
        /// built-in such as queries/replay/except-actor.rq); see docs/queries.md.
        #[arg(long, value_name = "QUERY.rq", conflicts_with_all = ["to", "event_graph", "hash"])]
        select: Option<String>,
        /// A parameter of the --select query, NAME=VALUE (repeatable).
        #[arg(long, value_name = "NAME=VALUE", requires = "select")]
        param: Vec<String>,
        /// Replay only the first SEQ events (must end a transaction).
        #[arg(long)]
        to: Option<u64>,
        /// Also write the event graph (`urn:ledgraph:log`, ~8 quads per event).
        #[arg(long)]
        event_graph: bool,
        /// Print the new store's dataset hash (implies --event-graph).
        #[arg(long)]
        hash: bool,
    },
    /// The Oxigraph store.
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// SHACL shapes: check files offline, or reload a server's.
    #[command(subcommand)]
    Shapes(shapes_cmd::ShapesCommand),
    /// Validate FILE against a server's shapes without appending (POST /v1/validate).
    Validate {
        file: PathBuf,
        #[arg(long, env = "LEDGRAPH_SERVER")]
        server: String,
        #[arg(long, value_enum)]
        format: Option<log_cmd::InputFormat>,
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Publish a file to a server as one transaction (POST /v1/events).
    Publish {
        file: PathBuf,
        /// The server, e.g. http://localhost:8080.
        #[arg(long, env = "LEDGRAPH_SERVER")]
        server: String,
        /// Input format (default: from the file extension: .nt .nq .ttl .json .rdfp/.patch
        /// .ce.json).
        #[arg(long, value_enum)]
        format: Option<log_cmd::InputFormat>,
        /// Bearer token with the publish scope.
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Run a SPARQL query on a server (SPARQL 1.1 Protocol), or with no --server on the local
    /// store (server stopped; brought up to the log first).
    Query {
        /// The query text, or "-" to read it from stdin.
        #[arg(required_unless_present = "named", conflicts_with = "named")]
        query: Option<String>,
        /// Run a named query instead (queries/NAME.rq, e.g. audit/subject-history; the server
        /// lists them at /v1/queries).
        #[arg(long, value_name = "NAME")]
        named: Option<String>,
        /// A parameter of the named query, NAME=VALUE (repeatable), bound as an RDF term.
        #[arg(long, value_name = "NAME=VALUE", requires = "named")]
        param: Vec<String>,
        /// Query this store directory as it is (one built by `replay --into`, e.g. a
        /// selective replay) instead of --data's.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["server", "as_of", "named"])]
        store: Option<PathBuf>,
        /// The server, e.g. http://localhost:7878.
        #[arg(long, env = "LEDGRAPH_SERVER")]
        server: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: store_cmd::QueryFormat,
        /// Bearer token with the read scope.
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Evaluate on the state at this log size (a transaction boundary), or after every
        /// transaction committed by this RFC 3339 time (docs/time-travel.md).
        #[arg(long = "as-of", value_name = "SEQ|TIME")]
        as_of: Option<String>,
    },
    /// Proof-carrying audits of a server (exit code 3 when a proof fails).
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Print a server's committed events matching a pattern as they commit (GET /v1/subscribe):
    /// one JSON object (or RDF Patch row) per line; with --topic, the kernel's alerts of a topic.
    Subscribe {
        /// The server, e.g. http://localhost:7878.
        #[arg(long, env = "LEDGRAPH_SERVER")]
        server: String,
        /// Subject IRI (bare or <...>) or blank node.
        #[arg(short = 's', long)]
        subject: Option<String>,
        /// Predicate IRI (bare or <...>).
        #[arg(short = 'p', long)]
        predicate: Option<String>,
        /// Object as an N-Triples term.
        #[arg(short = 'o', long)]
        object: Option<String>,
        /// add or remove.
        #[arg(long)]
        op: Option<String>,
        /// An alert topic (e.g. plant/alarms): print the kernel's alerts of it, one JSON object
        /// per line, instead of events.
        #[arg(long, conflicts_with_all = ["subject", "predicate", "object", "op", "rdf_patch"])]
        topic: Option<String>,
        /// Start at this log position (default: only events committed from now on).
        #[arg(long)]
        from: Option<u64>,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<u64>,
        /// Print RDF Patch rows instead of JSON.
        #[arg(long)]
        rdf_patch: bool,
        /// Bearer token with the read scope.
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Apply the pending migrations (NNNN_name.ru, SPARQL Update) in name order, each as one
    /// log transaction recording its SHA-256; an applied migration that was edited is refused.
    Migrate {
        /// The migrations directory.
        #[arg(long, default_value = migrate_cmd::DEFAULT_MIGRATIONS_DIR)]
        dir: PathBuf,
        /// Apply them on this server (POST /v1/migrations/{name}, admin token) instead of on
        /// --data (server stopped).
        #[arg(long, env = "LEDGRAPH_SERVER")]
        server: Option<String>,
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Copy the keys (node.key included: keep the backup secret) and the log up to a signed
    /// checkpoint from --data into the empty directory DIR; works while a server runs.
    Backup {
        dir: PathBuf,
        /// Cut the log at this server's current checkpoint (default: the latest stored one,
        /// at most ~1 s old while a server runs). The server must be serving --data.
        #[arg(long)]
        server: Option<String>,
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Verify a backup against its signed checkpoint (exit code 3 if it does not verify), then
    /// restore it into an empty data directory and rebuild the store.
    Restore {
        backup: PathBuf,
        /// The new data directory (must be empty or absent).
        #[arg(long)]
        into: PathBuf,
        /// The verifier key the backup's log must be signed with (default: the backup's own
        /// node.vkey).
        #[arg(long)]
        vkey: Option<PathBuf>,
        /// A signed checkpoint seen earlier (e.g. saved by verify-remote --save): the backup's
        /// log must extend it.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
    },
    /// Audit a server's log: checkpoint signature, sampled inclusion proofs and entries, and
    /// consistency with a checkpoint seen earlier. Exit code 3 when a check fails.
    VerifyRemote {
        /// The server, e.g. http://localhost:8080.
        url: String,
        /// A signed checkpoint seen earlier: prove the server's log extends it.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// The log's verifier key (C2SP vkey line); default: ask the server (trust on first use).
        #[arg(long)]
        vkey: Option<PathBuf>,
        /// How many events to prove included (at random, always including the newest).
        #[arg(long, default_value_t = 8)]
        samples: u64,
        /// Save the verified checkpoint here, for the next --trusted-checkpoint.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Bearer token with the read scope.
        #[arg(long, env = "LEDGRAPH_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

/// The data directory when neither `--data`, `LEDGRAPH_DATA` nor a config file names one.
pub const DEFAULT_DATA_DIR: &str = "./ledgraph-data";

/// Runs the CLI and maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server reports what it does; one-shot commands only warn.
    init_tracing(if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    });
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            let verify_failed = e
                .downcast_ref::<LogError>()
                .is_some_and(LogError::is_corruption)
                || e.downcast_ref::<crate::store::StoreError>()
                    .is_some_and(crate::store::StoreError::is_corruption)
                || e.downcast_ref::<verify_remote::VerifyFailed>().is_some();
            ExitCode::from(if verify_failed { EXIT_VERIFY_FAILED } else { 1 })
        }
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEDGRAPH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data = cli
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    match cli.command {
        Command::Keygen { name, force } => keygen(&data, name.as_deref(), force),
        Command::Log(cmd) => log_cmd::run(&data, cmd),
        Command::Receipts(cmd) => receipts_cmd::run(&data, cmd),
        Command::Compile(args) => compile_cmd::compile(&args),
        Command::Descriptor(cmd) => compile_cmd::run(cmd),
        Command::Demo => log_cmd::demo(&data),
        Command::Serve(args) => serve::run(cli.data, &args),
        Command::Replay {
            into,
            select: Some(select),
            param,
            ..
        } => replay_select_cmd::run(&data, &select, &param, &into),
        Command::Replay {
            into,
            to,
            event_graph,
            hash,
            ..
        } => store_cmd::run_replay(&data, &into, to, event_graph, hash),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Store(cmd) => store_cmd::run_store(&data, cmd),
        Command::Shapes(cmd) => shapes_cmd::run(cmd),
        Command::Validate {
            file,
            server,
            format,
            token,
        } => shapes_cmd::validate_remote(&server, &file, format, token.as_deref()),
        Command::Publish {
            file,
            server,
            format,
            token,
        } => client::publish(&server, &file, format, token.as_deref()),
        Command::Subscribe {
            server,
            subject,
            predicate,
            object,
            op,
            topic,
            from,
            limit,
            rdf_patch,
            token,
        } => {
            let args = subscribe_cmd::SubscribeArgs {
                subject,
                predicate,
                object,
                op,
                topic,
                from,
                limit,
                rdf_patch,
            };
            subscribe_cmd::run(&server, token.as_deref(), &args)
        }
        Command::Query {
            named: Some(name),
            param,
            server,
            format,
            token,
            as_of,
            ..
        } => {
            queries_cmd::check_name(&name)?;
            match server {
                Some(server) => client::named_query_remote(
                    &server,
                    &name,
                    &queries_cmd::parse_params(&param)?,
                    format,
                    token.as_deref(),
                    as_of.as_deref(),
                ),
                None => {
                    queries_cmd::run_named_local(&data, &name, &param, format, as_of.as_deref())
                }
            }
        }
        Command::Query {
            query,
            server,
            format,
            token,
            as_of,
            store,
            ..
        } => {
            let query = query.unwrap_or_default();
            let query = if query == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading the query from stdin")?
            } else {
                query
            };
            match server {
                Some(server) => client::query_remote(
                    &server,
                    &query,
                    format,
                    token.as_deref(),
                    as_of.as_deref(),
                ),
                None => match (as_of, store) {
                    (Some(as_of), _) => as_of_cmd::run_query_as_of(&data, &query, format, &as_of),
                    (None, Some(dir)) => store_cmd::run_query_in(&dir, &query, format),
                    (None, None) => store_cmd::run_query(&data, &query, format),
                },
            }
        }
        Command::Migrate { dir, server, token } => {
            migrate_cmd::run(&data, &dir, server.as_deref(), token.as_deref())
        }
        Command::Backup { dir, server, token } => {
            backup_cmd::run_backup(&data, &dir, server.as_deref(), token.as_deref())
        }
        Command::Restore {
            backup,
            into,
            vkey,
            trusted_checkpoint,
        } => backup_cmd::run_restore(
            &backup,
            &into,
            vkey.as_deref(),
            trusted_checkpoint.as_deref(),
        ),
        Command::VerifyRemote {
            url,
            trusted_checkpoint,
            vkey,
            samples,
            save,
            token,
        } => verify_remote::verify_remote(
            &url,
            &verify_remote::VerifyRemoteOptions {
                trusted_checkpoint: trusted_checkpoint.as_deref(),
                vkey: vkey.as_deref(),
                samples,
                save: save.as_deref(),
                token: token.as_deref(),
            },
        ),
    }
}

fn keygen(data: &Path, name: Option<&str>, force: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let key = keys::create_key_files(data, name, &mut OsRandom, force)?;
    println!("{}", key.verifier().to_vkey());
    eprintln!(
        "wrote {} and {}",
        data.join(keys::SKEY_FILE).display(),
        data.join(keys::VKEY_FILE).display()
    );
    Ok(())
}

/// Opens the data directory's log for writing, creating the key on first use.
pub fn open_log(data: &Path) -> anyhow::Result<Log> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let (key, created) = keys::load_or_create_key(data, &mut OsRandom)?;
    if created {
        eprintln!("created node key {}", data.join(keys::SKEY_FILE).display());
    }
    let (log, report) = Log::open(data, key, LogConfig::default(), Arc::new(SystemClock))?;
    if report.truncated_bytes > 0 {
        eprintln!(
            "recovered: dropped a torn, unacknowledged transaction ({} bytes, {} complete events)",
            report.truncated_bytes, report.truncated_events
        );
    }
    Ok(log)
}

/// A log opened for reading: as its writer when nobody else is, read-only otherwise.
pub enum Opened {
    Writer(Log),
    Reader(Box<LogReader>),
}

impl std::ops::Deref for Opened {
    type Target = LogReader;
    fn deref(&self) -> &LogReader {
        match self {
            Opened::Writer(log) => log,
            Opened::Reader(reader) => reader,
        }
    }
}

/// Opens for reading; falls back to a read-only view when a server holds the log.
pub fn open_for_reading(data: &Path) -> anyhow::Result<Opened> {
    if !data.join(keys::VKEY_FILE).exists() {
        anyhow::bail!(
            "{} has no log (no {} found)",
            data.display(),
            keys::VKEY_FILE
        );
    }
    match open_log(data) {
        Ok(log) => Ok(Opened::Writer(log)),
        Err(e) if matches!(e.downcast_ref::<LogError>(), Some(LogError::Locked { .. })) => {
            let verifier = keys::load_verifier(data)?;
            Ok(Opened::Reader(Box::new(LogReader::open_read_only(
                data, verifier,
            )?)))
        }
        Err(e) => Err(e),
    }
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
pub fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let style =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(what.to_owned());
    bar
}
