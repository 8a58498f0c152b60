//! The answer webhooks (`/twiml`, `/texml`, `/answer`): the document that
//! connects a call to `/media`, after its signature is checked.

use super::{App, CALL_TOKEN_PARAMETER};
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use teledsp::call::Telephony;
use teledsp::providers::{self, WebhookKey, xml_attr};
use tracing::warn;

/// The URL Twilio requested, on the public base.
pub(super) fn public(app: &App, uri: &axum::http::Uri, scheme_ws: bool) -> String {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}{path}", public_base(app, scheme_ws))
}

/// The public base URL, as `wss://`/`ws://` for WebSocket URLs.
pub(super) fn public_base(app: &App, scheme_ws: bool) -> String {
    let base = app.settings.public_url.trim_end_matches('/');
    if scheme_ws { base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1) } else { base.to_owned() }
}

pub(super) fn signed(app: &App, headers: &HeaderMap, url: &str, params: &[(String, String)]) -> bool {
    let Some(v) = &app.settings.validator else { return true };
    // SignalWire signs as Twilio does, in its own header (and Twilio's).
    let sig = ["x-twilio-signature", "x-signalwire-signature"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|s| s.to_str().ok()))
        .unwrap_or("");
    let ok = v.validate(url, params, sig);
    if !ok {
        app.metrics.signature_rejections.inc();
    }
    ok
}

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub(super) async fn twiml(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = stopping(&app) {
        return r;
    }
    if !matches!(app.settings.call.telephony, Telephony::Twilio | Telephony::SignalWire) {
        return (StatusCode::NOT_FOUND, "this relay's telephony answers elsewhere (see --telephony)\n").into_response();
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if !signed(&app, &headers, &public(&app, &uri, false), &params) {
        return (StatusCode::FORBIDDEN, "invalid X-Twilio-Signature\n").into_response();
    }
    let call_sid = params.iter().find(|(k, _)| k == "CallSid").map(|(_, v)| v.as_str());
    // Twilio drops query strings from Stream URLs: what the stream needs
    // travels as <Parameter>s and comes back in `start.customParameters`.
    let stream = format!("{}/media", public_base(&app, true));
    let signalwire = app.settings.call.telephony == Telephony::SignalWire;
    let token = match (&app.settings.call_tokens, call_sid) {
        (Some(tokens), Some(sid)) => Some(tokens.issue(sid, unix_now(), app.settings.call_token_ttl.as_secs())),
        (Some(_), None) => return (StatusCode::BAD_REQUEST, "no CallSid: cannot issue a call token\n").into_response(),
        (None, _) => None,
    };
    let mut xml =
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{}""#, xml_attr(&stream));
    // SignalWire documents no signature on the stream's upgrade, only
    // `Authorization: Bearer` with the <Stream>'s `authBearerToken`.
    if let (true, Some(t)) = (signalwire, &token) {
        xml.push_str(&format!(r#" authBearerToken="{}""#, xml_attr(t)));
    }
    xml.push('>');
    let param = |xml: &mut String, k: &str, v: &str| {
        xml.push_str(&format!(r#"<Parameter name="{}" value="{}"/>"#, xml_attr(k), xml_attr(v)));
    };
    for key in ["CallSid", "From", "To"] {
        if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
            param(&mut xml, key, v);
        }
    }
    if let (false, Some(t)) = (signalwire, &token) {
        param(&mut xml, CALL_TOKEN_PARAMETER, t);
    }
    // Runs when the stream ends without the call ending (e.g. upstream down).
    xml.push_str("</Stream></Connect><Say>Sorry, the assistant is unavailable. Goodbye.</Say></Response>");
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// 503 once the drain has ended: no new calls (through the drain they
/// are taken; see [`super::Drain`]).
pub(super) fn stopping(app: &App) -> Option<Response> {
    app.stopping().then(|| (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response())
}

pub(super) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect()
}

/// Checks a Telnyx, Plivo or Vonage answer webhook against its key (none
/// configured: only with `--insecure-no-signature`).
pub(super) fn webhook_ok(
    app: &App,
    method: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
    params: &[(String, String)],
) -> bool {
    let Some(key) = &app.settings.webhook_key else { return true };
    let h = header_pairs(headers);
    let r = match key {
        WebhookKey::Telnyx(k) => providers::telnyx_verify(k, &h, body, unix_now()),
        WebhookKey::Plivo(t) => providers::plivo_verify(t, method, url, params, &h),
        WebhookKey::Vonage(s) => providers::vonage_verify(s, &h, body, unix_now()),
    };
    if let Err(e) = &r {
        app.metrics.signature_rejections.inc();
        warn!("answer webhook refused: {e}");
    }
    r.is_ok()
}

/// Telnyx's TeXML answer webhook.
pub(super) async fn texml(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = stopping(&app) {
        return r;
    }
    if app.settings.call.telephony != Telephony::Telnyx {
        return (StatusCode::NOT_FOUND, "this relay's telephony is not Telnyx\n").into_response();
    }
    if !webhook_ok(&app, "POST", &public(&app, &uri, false), &headers, &body, &[]) {
        return (StatusCode::FORBIDDEN, "invalid telnyx-signature-ed25519\n").into_response();
    }
    let xml = providers::texml(&format!("{}/media", public_base(&app, true)));
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// Plivo's (XML) or Vonage's (NCCO) answer webhook.
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
    let stream = format!("{}/media", public_base(&app, true));
    let url = public(&app, &uri, false);
    match app.settings.call.telephony {
        Telephony::Plivo => {
            let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
            if !webhook_ok(&app, method.as_str(), &url, &headers, &body, &params) {
                return (StatusCode::FORBIDDEN, "invalid X-Plivo-Signature-V3\n").into_response();
            }
            ([(header::CONTENT_TYPE, "text/xml")], providers::plivo_xml(&stream)).into_response()
        }
        Telephony::Vonage => {
            if !webhook_ok(&app, method.as_str(), &url, &headers, &body, &[]) {
                return (StatusCode::FORBIDDEN, "invalid webhook JWT\n").into_response();
            }
            // Vonage sends the call's uuid in the query (GET) or the JSON body (POST).
            let from_query = uri.query().and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "uuid").map(|(_, v)| v.into_owned())
            });
            let from_body =
                || serde_json::from_slice::<serde_json::Value>(&body).ok()?["uuid"].as_str().map(str::to_owned);
            let uuid = from_query.or_else(from_body).unwrap_or_default();
            ([(header::CONTENT_TYPE, "application/json")], providers::vonage_ncco(&stream, &uuid)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "this relay's telephony is not Plivo or Vonage\n").into_response(),
    }
}
