//! What differs per telephony provider outside the media stream: the
//! answer webhook (the document that connects the call to `/media`) and how
//! its requests are signed. The media stream itself is the engine's
//! ([`crate::call`]'s adapters). Every relay takes these facts from here,
//! so they are written once (issue 27).
//!
//! | provider | answer endpoint | document | signature |
//! |---|---|---|---|
//! | Twilio | `POST /twiml` | TwiML `<Connect><Stream>` | `X-Twilio-Signature` (HMAC-SHA1), also on the `/media` upgrade |
//! | SignalWire | `POST /twiml` | cXML, the same | `X-SignalWire-Signature` or `X-Twilio-Signature`, the same scheme with the signing key |
//! | Telnyx | `POST /texml` | TeXML `<Connect><Stream codec="PCMU" bidirectionalMode="rtp" bidirectionalCodec="PCMU">` | `telnyx-signature-ed25519` over `timestamp|body` (Ed25519, `ed25519-dalek`), 5 min tolerance |
//! | Plivo | `POST /answer` | Plivo XML `<Stream bidirectional="true">` | `X-Plivo-Signature-V3` (HMAC-SHA256 of URL, sorted params and nonce) |
//! | Vonage | `GET`/`POST /answer` | NCCO `connect` to a `websocket` endpoint | signed webhooks: a JWT (HS256 only, checked with `hmac`) whose `payload_hash` is the body's SHA-256, 5 min tolerance |
//! | Exotel | none: the Voicebot applet's URL is set in Exotel's dashboard | | none (restrict `/media` at the network edge) |
//!
//! Only Twilio and SignalWire sign the `/media` upgrade itself; for the
//! others, the answer webhook is what is authenticated. [`Gate`] puts it
//! together, sans I/O: every relay hands it its answer webhooks' requests,
//! its `/media` upgrades and each stream's `start`.

//!
//! ```
//! use teledsp::call::Telephony;
//! use teledsp::providers;
//! assert_eq!(providers::answer_path(Telephony::Telnyx), Some("/texml"));
//! assert_eq!(providers::answer_path(Telephony::Exotel), None);
//! assert!(providers::plivo_xml("wss://relay.example.com/media").contains(r#"bidirectional="true""#));
//! ```

mod gate;
pub use gate::{CALL_TOKEN_PARAMETER, DEFAULT_CALL_TOKEN_TTL_S, Gate, GateConfig, Reply, Request, Upgrade};

use crate::call::Telephony;
use base64_simd::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::form_urlencoded;

/// Where `telephony`'s answer webhook is served: `/twiml` (Twilio,
/// SignalWire), `/texml` (Telnyx), `/answer` (Plivo, Vonage), none (Exotel:
/// its applet's URL is set in Exotel's dashboard).
pub fn answer_path(telephony: Telephony) -> Option<&'static str> {
    match telephony {
        Telephony::Twilio | Telephony::SignalWire => Some("/twiml"),
        Telephony::Telnyx => Some("/texml"),
        Telephony::Plivo | Telephony::Vonage => Some("/answer"),
        Telephony::Exotel => None,
    }
}

/// How far a signed request's timestamp may be from now, seconds.
pub const TOLERANCE_S: u64 = 300;

/// The key that checks a provider's webhook signatures.
#[derive(Clone)]
pub enum WebhookKey {
    /// Telnyx's public key (the portal's base64, 32 bytes).
    Telnyx(ed25519_dalek::VerifyingKey),
    /// Plivo's auth token.
    Plivo(String),
    /// Vonage's signature secret.
    Vonage(String),
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        f.write_str(match self {
            WebhookKey::Telnyx(_) => "WebhookKey::Telnyx",
            WebhookKey::Plivo(_) => "WebhookKey::Plivo",
            WebhookKey::Vonage(_) => "WebhookKey::Vonage",
        })
    }
}

impl WebhookKey {
    /// The key for `telephony` from its environment variable's value;
    /// `None` for providers that sign with Twilio's scheme or not at all.
    pub fn from_env_value(telephony: Telephony, value: &str) -> Result<Option<Self>, String> {
        Ok(Some(match telephony {
            Telephony::Telnyx => {
                let bytes = B64.decode_to_vec(value.trim()).map_err(|_| "TELNYX_PUBLIC_KEY is not base64")?;
                let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                    format!("TELNYX_PUBLIC_KEY is {} bytes; an Ed25519 public key is 32", b.len())
                })?;
                WebhookKey::Telnyx(
                    ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(|e| format!("TELNYX_PUBLIC_KEY: {e}"))?,
                )
            }
            Telephony::Plivo => WebhookKey::Plivo(value.to_owned()),
            Telephony::Vonage => WebhookKey::Vonage(value.to_owned()),
            _ => return Ok(None),
        }))
    }
}

/// A header's value, or "".
fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// Telnyx: `telnyx-signature-ed25519` is the base64 Ed25519 signature of
/// `{telnyx-timestamp}|{body}`, and the timestamp is within
/// [`TOLERANCE_S`] of `now` (Telnyx's "Webhook signing" docs).
pub fn telnyx_verify(
    key: &ed25519_dalek::VerifyingKey,
    headers: &[(String, String)],
    body: &[u8],
    now: u64,
) -> Result<(), String> {
    let ts = header(headers, "telnyx-timestamp");
    let t: u64 = ts.parse().map_err(|_| format!("telnyx-timestamp {ts:?} is not a number"))?;
    if t.abs_diff(now) > TOLERANCE_S {
        return Err(format!("telnyx-timestamp is {} s from now (at most {TOLERANCE_S})", t.abs_diff(now)));
    }
    let sig = B64
        .decode_to_vec(header(headers, "telnyx-signature-ed25519"))
        .map_err(|_| "telnyx-signature-ed25519 is not base64".to_string())?;
    let sig = ed25519_dalek::Signature::from_slice(&sig).map_err(|e| format!("telnyx-signature-ed25519: {e}"))?;
    let mut msg = Vec::with_capacity(ts.len() + 1 + body.len());
    msg.extend_from_slice(ts.as_bytes());
    msg.push(b'|');
    msg.extend_from_slice(body);
    key.verify_strict(&msg, &sig).map_err(|_| "telnyx-signature-ed25519 does not match".to_string())
}

/// Plivo V3: base64 HMAC-SHA256, keyed by the auth token, of the URL
/// (query sorted; for a POST with parameters, `?`, the sorted query and `.`
/// if any, then each parameter's name and value, sorted, concatenated),
/// `.`, and the nonce, as plivo-python's `validate_v3_signature` builds it.
pub fn plivo_v3_signature(token: &str, method: &str, url: &str, params: &[(String, String)], nonce: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let mut s = base.to_owned();
    let post_params = method.eq_ignore_ascii_case("POST") && !params.is_empty();
    if !method.eq_ignore_ascii_case("POST") {
        q.extend(params.iter().cloned());
    }
    q.sort();
    let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !qs.is_empty() || post_params {
        s.push('?');
        s.push_str(&qs.join("&"));
    }
    if !qs.is_empty() && post_params {
        s.push('.');
    }
    if post_params {
        let mut p = params.to_vec();
        p.sort();
        for (k, v) in p {
            s.push_str(&k);
            s.push_str(&v);
        }
    }
    s.push('.');
    s.push_str(nonce);
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key length");
    mac.update(s.as_bytes());
    B64.encode_to_string(mac.finalize().into_bytes())
}

/// Plivo: one of the comma-separated `X-Plivo-Signature-V3` values is the
/// V3 signature of this request with `X-Plivo-Signature-V3-Nonce`.
pub fn plivo_verify(
    token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
) -> Result<(), String> {
    let nonce = header(headers, "x-plivo-signature-v3-nonce");
    if nonce.is_empty() {
        return Err("no X-Plivo-Signature-V3-Nonce".into());
    }
    let want = plivo_v3_signature(token, method, url, params, nonce);
    let ok = header(headers, "x-plivo-signature-v3")
        .split(',')
        .any(|s| bool::from(s.trim().as_bytes().ct_eq(want.as_bytes())));
    if ok { Ok(()) } else { Err("X-Plivo-Signature-V3 does not match".into()) }
}

#[derive(serde::Deserialize)]
struct VonageClaims {
    iat: u64,
    payload_hash: Option<String>,
}

/// Vonage signed webhooks: `Authorization: Bearer <JWT>`, HS256 with the
/// signature secret, issued within [`TOLERANCE_S`] of `now`, and for a
/// request with a body, `payload_hash` is its SHA-256 in hex (Vonage's
/// "Signed webhooks" docs).
pub fn vonage_verify(secret: &str, headers: &[(String, String)], body: &[u8], now: u64) -> Result<(), String> {
    let auth = header(headers, "authorization");
    let token = auth.strip_prefix("Bearer ").ok_or("no Authorization: Bearer token")?;
    let c: VonageClaims =
        hs256_claims(secret.as_bytes(), token).map_err(|e| format!("the webhook JWT does not verify: {e}"))?;
    if c.iat.abs_diff(now) > TOLERANCE_S {
        return Err(format!("the webhook JWT was issued {} s from now (at most {TOLERANCE_S})", c.iat.abs_diff(now)));
    }
    if !body.is_empty() {
        let hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        if c.payload_hash.as_deref() != Some(hash.as_str()) {
            return Err("the webhook JWT's payload_hash is not the body's".into());
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct JwtHeader {
    alg: String,
}

/// The claims of a JWT (RFC 7519, compact form: header, payload and
/// signature in base64url, dot-separated) signed HS256 with `key`. The
/// algorithm is the key's, not the token's: a header naming another
/// (`none`, an asymmetric one) is refused. HS256 is what Vonage signs
/// with, and the `hmac` crate checks the MAC in constant time; the
/// `jsonwebtoken` crate did this before, but it cannot be built without
/// RSA and elliptic curves (and `rsa` has an advisory with no fixed
/// version), which would have sat in every build of this library.
fn hs256_claims<T: serde::de::DeserializeOwned>(key: &[u8], token: &str) -> Result<T, String> {
    let mut parts = token.split('.');
    let (Some(head), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("not three dot-separated parts".into());
    };
    let b64 = |what: &str, part: &str| {
        base64_simd::URL_SAFE_NO_PAD.decode_to_vec(part).map_err(|_| format!("its {what} is not base64url"))
    };
    let h: JwtHeader = serde_json::from_slice(&b64("header", head)?).map_err(|e| format!("its header: {e}"))?;
    if h.alg != "HS256" {
        return Err(format!("its algorithm is {:?}, not HS256", h.alg));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&b64("signature", sig)?).map_err(|_| "its signature does not match".to_string())?;
    serde_json::from_slice(&b64("payload", payload)?).map_err(|e| format!("its claims: {e}"))
}

/// `s` escaped for an XML attribute value (or text).
pub fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;")
}

/// Telnyx TeXML that connects the call to `stream` in bidirectional RTP mode,
/// PCMU both ways, then says goodbye if the stream ends first. Both codecs
/// are named: the engine answers in the codec the stream arrives in, so the
/// stream's (`codec`, else the call's, PCMA in much of the world) must be the
/// one Telnyx plays back (`bidirectionalCodec`); Telnyx transcodes PCMA
/// calls to PCMU.
pub fn texml(stream: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{}" codec="PCMU" bidirectionalMode="rtp" bidirectionalCodec="PCMU"/></Connect><Say>Sorry, the assistant is unavailable. Goodbye.</Say></Response>"#,
        xml_attr(stream)
    )
}

/// Plivo XML that streams the call both ways to `stream` (mu-law 8 kHz).
pub fn plivo_xml(stream: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">{}</Stream></Response>"#,
        xml_attr(stream)
    )
}

/// A Vonage NCCO that connects the call to `stream` (L16 at 16 kHz), with
/// the call's uuid as a header (the stream's id).
pub fn vonage_ncco(stream: &str, uuid: &str) -> String {
    serde_json::json!([{
        "action": "connect",
        "endpoint": [{"type": "websocket", "uri": stream, "content-type": "audio/l16;rate=16000", "headers": {"uuid": uuid}}],
    }])
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Vectors from plivo-python 4.63.0's `construct_post_url` and
    /// `get_signature_v3` (token "MyAuthToken", nonce "nonce-42").
    #[test]
    fn plivo_v3_matches_the_sdk() {
        let params =
            h(&[("CallUUID", "c-123"), ("From", "+15551230000"), ("To", "+15559870000"), ("Direction", "inbound")]);
        let with_query = "https://relay.example.com/answer?tenant=acme";
        assert_eq!(
            plivo_v3_signature("MyAuthToken", "POST", with_query, &params, "nonce-42"),
            "Ny8zeftAN5q+23pEdpFW3pM12x3IpcqGZJmLso+runM="
        );
        let plain = "https://relay.example.com/answer";
        let sig = "TUW6IzUHj5rtnvzZqzlbXLItsa6jMF54nPnCFcmvTo8=";
        assert_eq!(plivo_v3_signature("MyAuthToken", "POST", plain, &params, "nonce-42"), sig);
        let headers =
            h(&[("X-Plivo-Signature-V3", &format!("other,{sig}")), ("X-Plivo-Signature-V3-Nonce", "nonce-42")]);
        assert!(plivo_verify("MyAuthToken", "POST", plain, &params, &headers).is_ok());
        assert!(plivo_verify("OtherToken", "POST", plain, &params, &headers).is_err());
        let mut tampered = params.clone();
        tampered[1].1 = "+15550000000".into();
        assert!(plivo_verify("MyAuthToken", "POST", plain, &tampered, &headers).is_err());
    }

    #[test]
    fn telnyx_ed25519_over_timestamp_and_body() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let pk = B64.encode_to_string(sk.verifying_key().as_bytes());
        let Some(WebhookKey::Telnyx(key)) = WebhookKey::from_env_value(Telephony::Telnyx, &pk).unwrap() else {
            panic!()
        };
        let body = br#"{"data":{"event_type":"call.initiated"}}"#;
        use ed25519_dalek::Signer;
        let sig = B64.encode_to_string(sk.sign(&[b"1700000000|".as_slice(), body].concat()).to_bytes());
        let headers = h(&[("telnyx-timestamp", "1700000000"), ("telnyx-signature-ed25519", &sig)]);
        assert_eq!(telnyx_verify(&key, &headers, body, 1_700_000_100), Ok(()));
        assert!(telnyx_verify(&key, &headers, b"{}", 1_700_000_100).unwrap_err().contains("does not match"));
        assert!(telnyx_verify(&key, &headers, body, 1_700_001_000).unwrap_err().contains("from now"));
        assert!(WebhookKey::from_env_value(Telephony::Telnyx, "AAAA").unwrap_err().contains("32"));
    }

    #[test]
    fn vonage_jwt_with_payload_hash() {
        let body = br#"{"uuid":"u1"}"#;
        let hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        let claims = serde_json::json!({"iat": 1_700_000_000u64, "jti": "j1", "iss": "Vonage", "payload_hash": hash});
        let jwt = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"sekrit"),
        )
        .unwrap();
        let headers = h(&[("Authorization", &format!("Bearer {jwt}"))]);
        assert_eq!(vonage_verify("sekrit", &headers, body, 1_700_000_010), Ok(()));
        assert!(vonage_verify("other", &headers, body, 1_700_000_010).is_err());
        assert!(vonage_verify("sekrit", &headers, b"{}", 1_700_000_010).unwrap_err().contains("payload_hash"));
        assert!(vonage_verify("sekrit", &headers, body, 1_700_009_999).unwrap_err().contains("issued"));
        assert!(vonage_verify("sekrit", &[], body, 1_700_000_010).unwrap_err().contains("Bearer"));
    }

    #[test]
    fn a_jwt_is_refused_unless_hs256_and_whole() {
        let enc = |s: &[u8]| base64_simd::URL_SAFE_NO_PAD.encode_to_string(s);
        let claims = br#"{"iat":1700000000}"#;
        let sign = |head: &str, payload: &str| {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
            mac.update(format!("{head}.{payload}").as_bytes());
            enc(&mac.finalize().into_bytes())
        };
        let (h, p) = (enc(br#"{"alg":"HS256","typ":"JWT"}"#), enc(claims));
        let good = format!("{h}.{p}.{}", sign(&h, &p));
        #[derive(serde::Deserialize, Debug)]
        struct C {
            #[allow(dead_code)]
            iat: u64,
        }
        assert!(hs256_claims::<C>(b"k", &good).is_ok());
        // "none", and another algorithm with the same MAC: the key decides.
        let none = enc(br#"{"alg":"none"}"#);
        assert!(hs256_claims::<C>(b"k", &format!("{none}.{p}.")).unwrap_err().contains("\"none\""));
        let hs512 = enc(br#"{"alg":"HS512"}"#);
        assert!(hs256_claims::<C>(b"k", &format!("{hs512}.{p}.{}", sign(&hs512, &p))).unwrap_err().contains("HS512"));
        // A payload changed under its signature; missing and extra parts; bad base64.
        let other = enc(br#"{"iat":1800000000}"#);
        assert!(
            hs256_claims::<C>(b"k", &format!("{h}.{other}.{}", sign(&h, &p))).unwrap_err().contains("does not match")
        );
        assert!(hs256_claims::<C>(b"k", &format!("{h}.{p}")).unwrap_err().contains("three"));
        assert!(hs256_claims::<C>(b"k", &format!("{good}.x")).unwrap_err().contains("three"));
        assert!(hs256_claims::<C>(b"k", &format!("{h}.{p}.***")).unwrap_err().contains("base64url"));
        // Signed right, but without the claim Vonage always sends.
        let empty = enc(b"{}");
        assert!(hs256_claims::<C>(b"k", &format!("{h}.{empty}.{}", sign(&h, &empty))).unwrap_err().contains("iat"));
    }
}
