//! A real `ledgraph serve` on a loopback port, in-process, for tests whose client is the CLI
//! binary (which needs a URL, not a router).

use std::sync::Arc;
use std::thread::JoinHandle;

use ledgraph::http::server::{self, Opened, ServerConfig, ServerError};

/// A server bound to `127.0.0.1:0`; [`Served::stop`] shuts it down cleanly and checks it
/// stopped without error.
pub struct Served {
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: JoinHandle<Result<(), ServerError>>,
}

impl Served {
    /// Serves `opened` (from `server::open(&config)`) with `config`, whose `bind` is set to
    /// an ephemeral loopback port.
    pub fn start(mut config: ServerConfig, opened: Opened) -> Self {
        config.bind = "127.0.0.1:0".parse().expect("loopback address");
        let runtime = Arc::new(tokio::runtime::Runtime::new().expect("tokio runtime"));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = std::thread::spawn(move || {
            runtime.block_on(server::serve(
                &config,
                opened,
                async move {
                    let _ = stop_rx.await;
                },
                move |addr| {
                    let _ = addr_tx.send(addr);
                },
            ))
        });
        let addr = addr_rx.recv().expect("the server bound its address");
        Served {
            url: format!("http://{addr}"),
            stop,
            serving,
        }
    }

    /// Opens the data directory of `config` and serves it.
    pub fn open(config: ServerConfig) -> Self {
        let opened = server::open(&config).expect("open the server state");
        Self::start(config, opened)
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        self.serving
            .join()
            .expect("server thread")
            .expect("server stopped cleanly");
    }
}
