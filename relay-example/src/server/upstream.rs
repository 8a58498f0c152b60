//! The model connection: one upstream WebSocket per call, with the API's
//! key header (the engine says which).

use super::{App, MAX_MESSAGE, READ_BUFFER};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

pub(super) type Upstream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the upstream socket (its time bound is the caller's).
pub(super) async fn connect_upstream(app: &App) -> Result<Upstream, String> {
    let s = &app.settings;
    let mut req = s.model_url.as_str().into_client_request().map_err(|e| format!("bad model URL: {e}"))?;
    // Each API's own key header.
    for (name, value) in s.call.model_headers(&s.model_api_key) {
        let value = value.parse().map_err(|_| format!("{name} is not a valid header value"))?;
        req.headers_mut().insert(name, value);
    }
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .read_buffer_size(READ_BUFFER);
    match tokio_tungstenite::connect_async_with_config(req, Some(config), true).await {
        Ok((ws, _)) => Ok(ws),
        Err(e) => Err(format!("connect failed: {e}")),
    }
}
