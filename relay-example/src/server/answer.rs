//! The answer webhooks (`/twiml`, `/texml`, `/answer`): HTTP around
//! [`teledsp::providers::Gate`], which checks the signature and writes the
//! document that connects a call to `/media`.

use super::App;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use teledsp::providers::Request;
use tracing::warn;

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// 503 once the drain has ended: no new calls (through the drain they
/// are taken; see [`super::Drain`]).
pub(super) fn stopping(app: &App) -> Option<Response> {
    app.stopping().then(|| (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response())
}

pub(super) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect()
}

/// Every answer webhook: the gate answers (404 on another provider's path).
pub(super) async fn answer(
    State(app): State<Arc<App>>,
    method: axum::http::Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = stopping(&app) {
        return r;
    }
    let headers = header_pairs(&headers);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let req = Request { method: method.as_str(), path_and_query: path, headers: &headers, body: &body };
    let reply = app.gate.answer(&req, unix_now());
    if let Some(why) = &reply.refused {
        app.metrics.signature_rejections.inc();
        warn!("answer webhook refused: {why}");
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type))], reply.body).into_response()
}
