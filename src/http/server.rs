//! Running the server: open (or create) the data directory, start the projections, bind, serve
//! until a shutdown signal, then close everything in order.
//!
//! Shutdown on SIGTERM or Ctrl-C: stop accepting connections, let in-flight requests finish
//! (their appends complete and are acknowledged), stop the projections at a transaction
//! boundary, and close the log so every file is durable. A first start on an empty directory
//! creates the node key and appends the demo ontologies, so `ledgraph serve` shows something.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::serve::ListenerExt;

use crate::bus::{Bus, BusConfig, BusError};
use crate::event::hlc::SystemClock;
use crate::event::skolem::DEFAULT_GENID_BASE;
use crate::event::{ActorKey, Batch};
use crate::keys::{self, KeyError, OsRandom};
use crate::log::{Log, LogConfig, LogError};
use crate::shapes::{Admission, Shapes};
use crate::store::{GraphStore, ProjectionConfig, Projections, StoreError, TimingTable, store_dir};

use super::auth::Tokens;
use super::{AppState, Limits, Shared, app, ops};

/// How many transactions' timing (received/committed) is kept for the event projection.
pub const TIMING_ENTRIES_MAX: usize = 65_536;

/// How long shutdown waits for blocking work that outlived its request.
const CLOSE_WAIT_MS_MAX: u64 = 10_000;

/// Everything `serve` needs; the CLI fills it from flags, environment and a TOML file.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data: PathBuf,
    pub bind: SocketAddr,
    pub tokens: Tokens,
    pub limits: Limits,
    pub genid_base: String,
    /// Append the demo ontologies when the log is empty.
    pub demo_data: bool,
    pub log: LogConfig,
    pub projection: ProjectionConfig,
    /// SHACL shapes file or directory; `None` admits every batch (see [`crate::shapes`]).
    pub shapes: Option<PathBuf>,
    /// The built web UI (`--web-dir`; default [`super::web::default_dir`]).
    pub web_dir: PathBuf,
    pub bus: BusConfig,
}

impl ServerConfig {
    pub fn new(data: PathBuf) -> Self {
        ServerConfig {
            data,
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            tokens: Tokens::default(),
            limits: Limits::default(),
            genid_base: DEFAULT_GENID_BASE.to_owned(),
            demo_data: true,
            log: LogConfig::default(),
            projection: ProjectionConfig::default(),
            shapes: None,
            web_dir: super::web::default_dir(),
            bus: BusConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(
        "refusing to serve on {0} without tokens: configure a tokens file (--tokens-file) or LEDGRAPH_TOKENS, or bind to a loopback address"
    )]
    OpenOnNetwork(SocketAddr),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seed(#[from] crate::demo::SeedError),
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("shapes: {0}")]
    Shapes(#[from] crate::shapes::ShapesError),
    #[error("the store did not catch up with the log within {0} ms to record the shapes")]
    StateWait(u64),
    #[error("the active descriptor cannot be restored: {0}")]
    Descriptor(crate::kernel::registry::RegistryError),
}

/// An opened data directory with its projections running, ready to be served.
pub struct Opened {
    pub state: AppState,
}

/// Opens the log, the store and the projections (creating the key, and appending the demo data
/// when asked, on an empty directory).
pub fn open(config: &ServerConfig) -> Result<Opened, ServerError> {
    if !config.bind.ip().is_loopback() && config.tokens.is_empty() {
        return Err(ServerError::OpenOnNetwork(config.bind));
    }
    std::fs::create_dir_all(&config.data).map_err(|source| ServerError::Io {
        path: config.data.clone(),
        source,
    })?;
    let (key, created) = keys::load_or_create_key(&config.data, &mut OsRandom)?;
    if created {
        tracing::info!(path = %config.data.display(), "created the node key");
    }
    let actor = ActorKey(key.public_key());
    // The kernel signs its derived transactions with the node key (the log keeps its own copy).
    let kernel_key = keys::load_key(&config.data)?;
    let (log, report) = Log::open(&config.data, key, config.log.clone(), Arc::new(SystemClock))?;
    if report.truncated_bytes > 0 {
        tracing::warn!(
            bytes = report.truncated_bytes,
            events = report.truncated_events,
            "recovered: dropped a torn, unacknowledged transaction"
        );
    }
    let shapes = match &config.shapes {
        Some(path) => Arc::new(Shapes::load(path)?),
        None => Shapes::none(),
    };
    if config.demo_data && log.size() == 0 {
        for (file, ack) in crate::demo::append_demo_ontologies(&log, actor)? {
            tracing::info!(file, events = ack.count, "appended demo ontology");
        }
    }
    let store = GraphStore::open(&store_dir(&config.data))?;
    let timing = Arc::new(TimingTable::new(TIMING_ENTRIES_MAX));
    let projections = Projections::start(
        log.reader().clone(),
        store.clone(),
        timing.clone(),
        config.projection.clone(),
    )?;
    record_shapes_digest(&log, &store, &projections, actor, &shapes, config)?;
    let bus = Bus::start(log.reader().clone(), config.bus.clone())?;
    let log = Arc::new(log);
    let kernel = crate::kernel::follow::Follower::start(log.clone(), kernel_key);
    let descriptors = Arc::new(restore_descriptor(&store)?);
    let shared = Shared {
        log,
        store,
        projections: Arc::new(projections),
        timing,
        tokens: config.tokens.clone(),
        limits: config.limits.clone(),
        actor,
        genid_base: config.genid_base.clone(),
        write_gate: tokio::sync::RwLock::new(()),
        metrics: ops::prometheus(),
        shutting_down: AtomicBool::new(false),
        admission: Arc::new(Admission::new(shapes)),
        shapes_path: config.shapes.clone(),
        web_dir: config.web_dir.clone(),
        bus: Arc::new(bus),
        subscriber_counts: Arc::default(),
        descriptors,
        kernel,
    };
    Ok(Opened {
        state: AppState(Arc::new(shared)),
    })
}

/// Appends the digest of the shapes in force if the log last recorded other ones, before any
/// batch is validated by them (nothing else writes yet).
fn record_shapes_digest(
    log: &Log,
    store: &GraphStore,
    projections: &Projections,
    actor: ActorKey,
    shapes: &Shapes,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    let wait_ms = config.limits.state_wait_ms;
    if !projections.wait_state(log.size(), Duration::from_millis(wait_ms)) {
        return Err(ServerError::StateWait(wait_ms));
    }
    let previous = super::admission::recorded_digest(store.oxigraph())?;
    if previous.is_none() && shapes.sets.is_empty() {
        return Ok(());
    }
    let changes = crate::shapes::digest_changes(previous.as_deref(), shapes);
    if !changes.is_empty() {
        let ack = log.append(Batch::unsigned(actor, changes))?;
        tracing::info!(seq = ack.first_seq, digest = %shapes.digest, "recorded the shapes in force");
    }
    Ok(())
}

/// The descriptor the log last activated, loaded again (the projections have caught up with
/// the log in [`record_shapes_digest`]).
fn restore_descriptor(
    store: &GraphStore,
) -> Result<crate::kernel::registry::Registry, ServerError> {
    use crate::kernel::registry;
    let registry = registry::Registry::default();
    let restore = || -> Result<(), registry::RegistryError> {
        if let Some(digest) = registry::recorded_active(store.oxigraph())? {
            let bytes = registry::recorded_bytes(store.oxigraph(), &digest)?;
            registry.replace(Some(Arc::new(registry::load(bytes, None)?)));
            tracing::info!(%digest, "descriptor restored");
        }
        Ok(())
    };
    restore().map_err(ServerError::Descriptor)?;
    Ok(registry)
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Serves `opened` on `config.bind` until `shutdown` resolves; `on_listening` gets the bound
/// address (port 0 picks a free one).
pub async fn serve(
    config: &ServerConfig,
    opened: Opened,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    on_listening(addr);
    let state = opened.state;
    let router = app(state.clone());
    let flag = state.clone();
    // Without TCP_NODELAY a response written in two segments waits for the client's delayed
    // ACK: a floor of several milliseconds under every small query answer.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            flag.shutting_down.store(true, Ordering::Release);
            tracing::info!("shutting down: finishing in-flight requests");
            // Subscription streams never finish on their own: closing the bus ends them.
            let bus = flag.bus.clone();
            if tokio::task::spawn_blocking(move || bus.stop())
                .await
                .is_err()
            {
                tracing::error!("stopping the bus panicked");
            }
        })
        .await
        .map_err(ServerError::Serve)?;
    close(state).await
}

/// Stops the projections and closes the log once no request holds them.
pub async fn close(state: AppState) -> Result<(), ServerError> {
    state.shutting_down.store(true, Ordering::Release);
    let bus = state.bus.clone();
    tokio::task::spawn_blocking(move || bus.stop())
        .await
        .map_err(|e| ServerError::Serve(std::io::Error::other(e.to_string())))?;
    let mut shared = state.0;
    // Blocking tasks that outlived their requests (a cancelled query winding down) may still
    // hold a reference for a moment. Past the bound, the last reference to go closes the log
    // and stops the projections on drop instead.
    let deadline = std::time::Instant::now() + Duration::from_millis(CLOSE_WAIT_MS_MAX);
    let shared = loop {
        match Arc::try_unwrap(shared) {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() > deadline => {
                tracing::warn!("a request still holds the log; it will close when that ends");
                return Ok(());
            }
            Err(still_shared) => {
                shared = still_shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    tokio::task::spawn_blocking(move || -> Result<(), ServerError> {
        if let Ok(projections) = Arc::try_unwrap(shared.projections) {
            projections.stop()?;
        }
        if let Ok(log) = Arc::try_unwrap(shared.log) {
            log.close()?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ServerError::Serve(std::io::Error::other(e.to_string())))?
}
