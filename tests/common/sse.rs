//! Reading `GET /v1/subscribe` streams in tests: Server-Sent Events through the router (no
//! socket), and WebSocket messages from the app served on a loopback port.

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::StatusCode;
use futures_util::StreamExt;
use ledgraph::http::app;
use tower::ServiceExt;

use super::http::{TestServer, request};

/// How long a test waits for the next event of a stream.
pub const STREAM_WAIT: Duration = Duration::from_secs(30);

/// One SSE event: its id and data lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sse {
    pub id: u64,
    pub data: String,
}

/// An open event stream, read frame by frame.
pub struct Stream {
    body: BodyDataStream,
    text: String,
}

impl Stream {
    pub async fn open(server: &TestServer, uri: &str, headers: &[(&str, &str)]) -> Stream {
        let response = app(server.state.clone())
            .oneshot(request("GET", uri, headers, Body::empty()))
            .await
            .expect("the router is infallible");
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(media.starts_with("text/event-stream"), "{uri}: {media}");
        Stream {
            body: response.into_body().into_data_stream(),
            text: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped).
    pub async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut id = None;
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse::<u64>().expect("numeric id"));
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if let Some(id) = id {
                    return Sse {
                        id,
                        data: data.join("\n"),
                    };
                }
                continue;
            }
            let chunk = tokio::time::timeout(STREAM_WAIT, self.body.next())
                .await
                .expect("an event within the wait")
                .expect("the stream is still open")
                .expect("a readable frame");
            self.text
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    pub async fn take(&mut self, n: usize) -> Vec<Sse> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next().await);
        }
        out
    }
}

/// Serves the app on a loopback port; the base URI is `ws://…`.
pub async fn listen(server: &TestServer) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(server.state.clone());
    let handle = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("ws://{addr}"), handle)
}

/// Reads `n` text messages from a WebSocket.
pub async fn ws_take<S>(socket: &mut S, n: usize) -> Vec<serde_json::Value>
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let message = tokio::time::timeout(STREAM_WAIT, socket.next())
            .await
            .expect("a message within the wait")
            .expect("the socket is open")
            .expect("a readable message");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            out.push(serde_json::from_str(text.as_str()).expect("JSON"));
        }
    }
    out
}
