//! The WebSocket variant of `/v1/subscribe`: the same parameters, checks and limits, one text
//! message per event with the same payload as the SSE `data:` line.
//!
//! JSON and CloudEvents payloads (events and alerts) carry the log position, so a client resumes with
//! `from=<last seq + 1>` (WebSocket has no `Last-Event-ID`); RDF Patch rows do not, so a
//! client that must resume should not choose them. Messages from the client are read only to
//! notice a close; the stream ends with a normal close frame when `limit` is reached or the
//! bus stops.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;

use super::{Opened, spawn_pump};

/// Largest message a client may send us (it has nothing to say beyond closing).
const CLIENT_MESSAGE_BYTES_MAX: usize = 4_096;

pub(super) fn serve(upgrade: WebSocketUpgrade, opened: Opened) -> Response {
    upgrade
        .max_message_size(CLIENT_MESSAGE_BYTES_MAX)
        .on_upgrade(move |socket| stream(socket, opened))
}

async fn stream(mut socket: WebSocket, opened: Opened) {
    let mut rx = spawn_pump(opened);
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                // Pings are answered by the WebSocket layer; other messages are ignored.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            item = rx.recv() => match item {
                Some((_, text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                None => {
                    let close = CloseFrame {
                        code: close_code::NORMAL,
                        reason: "end of subscription".into(),
                    };
                    // The client may already be gone; nothing more to do either way.
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
            },
        }
    }
}
