//! [`Gate`]: what a relay checks and answers before a call's media flows,
//! as a sans-I/O object. Requests in (method, path, headers, body, the
//! time), answers out (status, content type, body), so the Rust, Python
//! and Node relays serve the same answer webhooks, refuse the same
//! requests and admit the same streams.
//!
//! A call passes three doors:
//! 1. the **answer webhook** ([`Gate::answer`]): the provider asks what to
//!    do with a new call; the signature is checked and the document that
//!    connects the call to `/media` is returned, with a per-call token
//!    when call tokens are on;
//! 2. the **`/media` upgrade** ([`Gate::upgrade`]): Twilio signs it
//!    (`X-Twilio-Signature` over the URL), SignalWire sends the call token
//!    as `Authorization: Bearer`; the others sign nothing here;
//! 3. the stream's **`start`** ([`Gate::admit`]): with call tokens, the
//!    token must have been issued for this call SID and still be valid.

use super::{WebhookKey, plivo_verify, plivo_xml, telnyx_verify, texml, vonage_ncco, vonage_verify, xml_attr};
use crate::Error;
use crate::call::{Stream, Telephony};
use crate::signature::{CallToken, RequestValidator};
use url::form_urlencoded;

/// The `<Parameter>` (and `start.customParameters` key) that carries a call
/// token on Twilio.
pub const CALL_TOKEN_PARAMETER: &str = "teledspCallToken";

/// How long a call token stays valid after the answer webhook, by default.
pub const DEFAULT_CALL_TOKEN_TTL_S: u64 = 60;

/// What a [`Gate`] checks with: the provider, the public URL it signs, and
/// its keys. [`GateConfig::from_secret`] builds it as every relay's command
/// line does.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// The provider.
    pub telephony: Telephony,
    /// The https base URL the provider reaches (signed URLs, the stream's URL).
    pub public_url: String,
    /// Twilio's (and SignalWire's) `X-Twilio-Signature` check.
    pub validator: Option<RequestValidator>,
    /// Telnyx's, Plivo's or Vonage's webhook key.
    pub webhook_key: Option<WebhookKey>,
    /// Per-call tokens: issued by the answer webhook, required at `start`.
    pub call_tokens: Option<CallToken>,
    /// Seconds a call token is valid.
    pub call_token_ttl_s: u64,
}

impl GateConfig {
    /// A gate for `telephony` at `public_url` that checks nothing (tests,
    /// `--insecure-no-signature`).
    pub fn insecure(telephony: Telephony, public_url: &str) -> Self {
        GateConfig {
            telephony,
            public_url: public_url.to_owned(),
            validator: None,
            webhook_key: None,
            call_tokens: None,
            call_token_ttl_s: DEFAULT_CALL_TOKEN_TTL_S,
        }
    }

    /// The gate from the provider's signing secret (the value of
    /// [`Telephony::secret_env`]), as a relay's command line gives it:
    /// `call_tokens` asks for per-call tokens (keyed from the Twilio or
    /// SignalWire secret; always on for SignalWire, whose stream is
    /// otherwise unauthenticated). Without a secret it refuses, unless
    /// `insecure_no_signature`, with a message that says what to set.
    ///
    /// ```
    /// use teledsp::call::Telephony;
    /// use teledsp::providers::GateConfig;
    /// let g = GateConfig::from_secret(Telephony::Twilio, "https://r.example.com", Some("tok"), true, 60, false).unwrap();
    /// assert!(g.validator.is_some() && g.call_tokens.is_some());
    /// let e = GateConfig::from_secret(Telephony::Plivo, "https://r.example.com", None, false, 60, false).unwrap_err();
    /// assert!(e.to_string().contains("PLIVO_AUTH_TOKEN is not set"));
    /// ```
    pub fn from_secret(
        telephony: Telephony,
        public_url: &str,
        secret: Option<&str>,
        call_tokens: bool,
        call_token_ttl_s: u64,
        insecure_no_signature: bool,
    ) -> Result<Self, Error> {
        let secret = secret.filter(|s| !s.is_empty());
        let twilio_scheme = matches!(telephony, Telephony::Twilio | Telephony::SignalWire);
        let token = if twilio_scheme { secret } else { None };
        let call_tokens = match (token, call_tokens || telephony == Telephony::SignalWire) {
            (Some(t), true) => Some(CallToken::new(t)),
            (None, true) if call_tokens => {
                return Err(Error::InvalidConfig(
                    "call tokens need TWILIO_AUTH_TOKEN or SIGNALWIRE_SIGNING_KEY (the tokens' key is derived from it)"
                        .into(),
                ));
            }
            _ => None,
        };
        let webhook_key = match (secret, twilio_scheme) {
            (Some(s), false) => WebhookKey::from_env_value(telephony, s).map_err(Error::InvalidConfig)?,
            _ => None,
        };
        let validator = token.map(RequestValidator::new);
        if validator.is_none() && webhook_key.is_none() && !insecure_no_signature {
            return Err(Error::InvalidConfig(match telephony.secret_env() {
                Some(v) => format!(
                    "{v} is not set: refusing to accept unsigned {} requests (pass --insecure-no-signature for local development)",
                    telephony.name()
                ),
                None => {
                    "exotel signs nothing: pass --insecure-no-signature and restrict /media at the network edge".into()
                }
            }));
        }
        Ok(GateConfig {
            validator,
            webhook_key,
            call_tokens,
            call_token_ttl_s,
            ..Self::insecure(telephony, public_url)
        })
    }
}

/// One HTTP request to an answer webhook or the `/media` upgrade.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The path and query the relay received (`/twiml`, `/answer?uuid=…`).
    pub path_and_query: &'a str,
    /// Its headers (names in any case).
    pub headers: &'a [(String, String)],
    /// Its body.
    pub body: &'a [u8],
}

/// The answer to an answer webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status: 200, 400 (no CallSid to issue a token for), 403 (a
    /// bad signature), 404 (another provider's webhook).
    pub status: u16,
    /// Its content type.
    pub content_type: &'static str,
    /// Its body: the document, or a line that says what was wrong.
    pub body: String,
    /// Why a signature was refused (for the log and a counter), if it was.
    pub refused: Option<String>,
}

impl Reply {
    fn text(status: u16, body: &str) -> Self {
        Reply { status, content_type: "text/plain", body: format!("{body}\n"), refused: None }
    }
    fn doc(content_type: &'static str, body: String) -> Self {
        Reply { status: 200, content_type, body, refused: None }
    }
    fn forbidden(header: &str, why: String) -> Self {
        Reply { refused: Some(why), ..Reply::text(403, &format!("invalid {header}")) }
    }
}

/// What the `/media` upgrade gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// Take the stream; SignalWire's bearer token, if one came, is checked
    /// at `start` by [`Gate::admit`].
    Accept {
        /// `Authorization: Bearer`'s token.
        bearer: Option<String>,
    },
    /// Accept the upgrade only to close it with 1008 and this reason (a
    /// WebSocket close says why; an HTTP 403 on the upgrade would not reach
    /// the provider's logs).
    Refuse(&'static str),
}

/// The checks and answers before a call's media flows (see the module).
///
/// ```
/// use teledsp::call::Telephony;
/// use teledsp::providers::{Gate, GateConfig, Request};
/// let gate = Gate::new(GateConfig::insecure(Telephony::Plivo, "https://relay.example.com"));
/// let req = Request { method: "POST", path_and_query: "/answer", headers: &[], body: b"CallUUID=c1" };
/// let reply = gate.answer(&req, 1_700_000_000);
/// assert_eq!((reply.status, reply.content_type), (200, "text/xml"));
/// assert!(reply.body.contains("wss://relay.example.com/media"));
/// let twiml = Request { path_and_query: "/twiml", ..req };
/// assert_eq!(gate.answer(&twiml, 1_700_000_000).status, 404); // Twilio's, not Plivo's
/// ```
#[derive(Clone, Debug)]
pub struct Gate {
    cfg: GateConfig,
}

/// The value of header `name` (any case), or "".
fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap_or("")
}

impl Gate {
    /// A gate with `cfg`.
    pub fn new(cfg: GateConfig) -> Self {
        Gate { cfg }
    }

    /// Its settings.
    pub fn config(&self) -> &GateConfig {
        &self.cfg
    }

    /// The public base URL, as `wss://`/`ws://` for WebSocket URLs.
    fn base(&self, ws: bool) -> String {
        let base = self.cfg.public_url.trim_end_matches('/');
        if ws { base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1) } else { base.to_owned() }
    }

    /// The URL the provider requested (what it signed).
    fn url(&self, path_and_query: &str, ws: bool) -> String {
        format!("{}{path_and_query}", self.base(ws))
    }

    /// The media stream's URL: `wss://PUBLIC/media`.
    pub fn stream_url(&self) -> String {
        format!("{}/media", self.base(true))
    }

    /// Twilio's scheme, in either provider's header.
    fn twilio_signed(&self, url: &str, params: &[(String, String)], headers: &[(String, String)]) -> bool {
        let Some(v) = &self.cfg.validator else { return true };
        // SignalWire signs as Twilio does, in its own header (and Twilio's).
        let sig = ["x-twilio-signature", "x-signalwire-signature"]
            .iter()
            .map(|h| header(headers, h))
            .find(|s| !s.is_empty())
            .unwrap_or("");
        v.validate(url, params, sig)
    }

    /// The answer to a request on an answer webhook (`/twiml`, `/texml`,
    /// `/answer`), at `now_unix` (seconds: signature tolerance, token
    /// expiry). Another provider's path gets 404.
    pub fn answer(&self, req: &Request<'_>, now_unix: u64) -> Reply {
        let path = req.path_and_query.split('?').next().unwrap_or("");
        let t = self.cfg.telephony;
        if Some(path) != super::answer_path(t) {
            return Reply::text(
                404,
                &format!(
                    "not this relay's answer webhook: --telephony {} answers at {}",
                    t.name(),
                    super::answer_path(t).unwrap_or("none (set the Voicebot URL in Exotel's dashboard)")
                ),
            );
        }
        let url = self.url(req.path_and_query, false);
        let form = || form_urlencoded::parse(req.body).into_owned().collect::<Vec<(String, String)>>();
        let verify = |params: &[(String, String)]| -> Result<(), String> {
            let h = req.headers;
            match &self.cfg.webhook_key {
                None => Ok(()),
                Some(WebhookKey::Telnyx(k)) => telnyx_verify(k, h, req.body, now_unix),
                Some(WebhookKey::Plivo(tok)) => plivo_verify(tok, req.method, &url, params, h),
                Some(WebhookKey::Vonage(s)) => vonage_verify(s, h, req.body, now_unix),
            }
        };
        match t {
            Telephony::Twilio | Telephony::SignalWire => {
                let params = form();
                if !self.twilio_signed(&url, &params, req.headers) {
                    let h = if t == Telephony::SignalWire { "X-SignalWire-Signature" } else { "X-Twilio-Signature" };
                    return Reply::forbidden(h, format!("{h} does not match"));
                }
                self.twiml(&params, now_unix)
            }
            Telephony::Telnyx => match verify(&[]) {
                Ok(()) => Reply::doc("text/xml", texml(&self.stream_url())),
                Err(e) => Reply::forbidden("telnyx-signature-ed25519", e),
            },
            Telephony::Plivo => match verify(&form()) {
                Ok(()) => Reply::doc("text/xml", plivo_xml(&self.stream_url())),
                Err(e) => Reply::forbidden("X-Plivo-Signature-V3", e),
            },
            Telephony::Vonage => {
                if let Err(e) = verify(&[]) {
                    return Reply::forbidden("webhook JWT", e);
                }
                // The call's uuid: in the query (GET) or the JSON body (POST).
                let query = req.path_and_query.split_once('?').map(|(_, q)| q).unwrap_or("");
                let from_query =
                    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "uuid").map(|(_, v)| v.into_owned());
                let from_body =
                    || serde_json::from_slice::<serde_json::Value>(req.body).ok()?["uuid"].as_str().map(str::to_owned);
                let uuid = from_query.or_else(from_body).unwrap_or_default();
                Reply::doc("application/json", vonage_ncco(&self.stream_url(), &uuid))
            }
            Telephony::Exotel => unreachable!("Exotel has no answer path"),
        }
    }

    /// TwiML (Twilio) or cXML (SignalWire): `<Connect><Stream>` to
    /// [`Gate::stream_url`] with CallSid, From and To as `<Parameter>`s (Twilio
    /// drops query strings from stream URLs), the call token, and a `<Say>`
    /// that runs if the stream ends without the call ending.
    fn twiml(&self, params: &[(String, String)], now_unix: u64) -> Reply {
        let call_sid = params.iter().find(|(k, _)| k == "CallSid").map(|(_, v)| v.as_str());
        let token = match (&self.cfg.call_tokens, call_sid) {
            (Some(tokens), Some(sid)) => Some(tokens.issue(sid, now_unix, self.cfg.call_token_ttl_s)),
            (Some(_), None) => return Reply::text(400, "no CallSid: cannot issue a call token"),
            (None, _) => None,
        };
        let signalwire = self.cfg.telephony == Telephony::SignalWire;
        let mut xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{}""#,
            xml_attr(&self.stream_url())
        );
        // SignalWire documents no signature on the stream's upgrade, only
        // `Authorization: Bearer` with the <Stream>'s `authBearerToken`.
        if let (true, Some(t)) = (signalwire, &token) {
            xml.push_str(&format!(r#" authBearerToken="{}""#, xml_attr(t)));
        }
        xml.push('>');
        let mut param = |k: &str, v: &str| {
            xml.push_str(&format!(r#"<Parameter name="{}" value="{}"/>"#, xml_attr(k), xml_attr(v)));
        };
        for key in ["CallSid", "From", "To"] {
            if let Some((_, v)) = params.iter().find(|(k, _)| k == key) {
                param(key, v);
            }
        }
        if let (false, Some(t)) = (signalwire, &token) {
            param(CALL_TOKEN_PARAMETER, t);
        }
        xml.push_str("</Stream></Connect><Say>Sorry, the assistant is unavailable. Goodbye.</Say></Response>");
        Reply::doc("text/xml", xml)
    }

    /// Whether the `/media` upgrade `path_and_query` with `headers` may
    /// open a stream.
    ///
    /// ```
    /// use teledsp::call::Telephony;
    /// use teledsp::providers::{Gate, GateConfig, Upgrade};
    /// let cfg = GateConfig::from_secret(Telephony::Twilio, "https://r.example.com", Some("tok"), false, 60, false).unwrap();
    /// assert_eq!(Gate::new(cfg).upgrade("/media", &[]), Upgrade::Refuse("invalid X-Twilio-Signature"));
    /// ```
    pub fn upgrade(&self, path_and_query: &str, headers: &[(String, String)]) -> Upgrade {
        let auth = header(headers, "authorization");
        let bearer = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        match self.cfg.telephony {
            // Only Twilio documents a signature on the upgrade itself.
            Telephony::Twilio if !self.twilio_signed(&self.url(path_and_query, true), &[], headers) => {
                Upgrade::Refuse("invalid X-Twilio-Signature")
            }
            Telephony::SignalWire if self.cfg.call_tokens.is_some() && bearer.is_none() => {
                Upgrade::Refuse("no Authorization: Bearer token")
            }
            _ => Upgrade::Accept { bearer },
        }
    }

    /// Whether the stream that sent `start` may run, at `now_unix`: with
    /// call tokens, its token (the `teledspCallToken` parameter; for
    /// SignalWire the upgrade's bearer) must be this call SID's and valid.
    /// The error says why, for the log; close the stream with 1008.
    pub fn admit(&self, stream: &Stream, bearer: Option<&str>, now_unix: u64) -> Result<(), String> {
        let Some(tokens) = &self.cfg.call_tokens else { return Ok(()) };
        let param = stream.custom_parameters.get(CALL_TOKEN_PARAMETER).and_then(|v| v.as_str());
        let token = if self.cfg.telephony == Telephony::SignalWire { bearer } else { param }.unwrap_or("");
        if token.is_empty() {
            return Err(format!("no {CALL_TOKEN_PARAMETER} parameter or bearer token"));
        }
        let sid = stream.call_sid.as_deref().unwrap_or("");
        tokens.verify(token, sid, now_unix).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn post<'a>(path: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> Request<'a> {
        Request { method: "POST", path_and_query: path, headers, body }
    }

    fn stream(sid: &str, params: serde_json::Value) -> Stream {
        Stream {
            stream_sid: "MZ1".into(),
            call_sid: Some(sid.into()),
            custom_parameters: params.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn twiml_carries_the_call_token_that_start_must_bring_back() {
        let cfg =
            GateConfig::from_secret(Telephony::Twilio, "https://r.example.com/", Some("tok"), true, 60, false).unwrap();
        let gate = Gate::new(cfg);
        let v = RequestValidator::new("tok");
        let body = b"CallSid=CA9&From=%2B1555";
        let params = h(&[("CallSid", "CA9"), ("From", "+1555")]);
        let sig = h(&[("X-Twilio-Signature", &v.sign("https://r.example.com/twiml", &params))]);
        let r = gate.answer(&post("/twiml", &sig, body), NOW);
        assert_eq!((r.status, r.refused.as_deref()), (200, None), "{r:?}");
        assert!(r.body.contains(r#"<Stream url="wss://r.example.com/media">"#), "{}", r.body);
        assert!(r.body.contains(r#"<Parameter name="From" value="+1555"/>"#), "{}", r.body);
        let marker = r#"<Parameter name="teledspCallToken" value=""#;
        let at = r.body.find(marker).expect("a token") + marker.len();
        let token = &r.body[at..at + r.body[at..].find('"').unwrap()];
        let ok = stream("CA9", serde_json::json!({ CALL_TOKEN_PARAMETER: token }));
        assert_eq!(gate.admit(&ok, None, NOW + 59), Ok(()));
        assert!(gate.admit(&ok, None, NOW + 60).unwrap_err().contains("expired"));
        let other = stream("CA10", serde_json::json!({ CALL_TOKEN_PARAMETER: token }));
        assert!(gate.admit(&other, None, NOW).unwrap_err().contains("not issued for this call"));
        assert!(
            gate.admit(&stream("CA9", serde_json::json!({})), None, NOW).unwrap_err().contains("no teledspCallToken")
        );
        // A bad signature, and no CallSid to issue a token for.
        let bad = gate.answer(&post("/twiml", &h(&[("X-Twilio-Signature", "AAAA")]), body), NOW);
        assert_eq!((bad.status, bad.refused.is_some()), (403, true));
        let sig = h(&[("X-Twilio-Signature", &v.sign("https://r.example.com/twiml", &[]))]);
        assert_eq!(gate.answer(&post("/twiml", &sig, b""), NOW).status, 400);
        // The upgrade is signed over its URL.
        let up = h(&[("x-twilio-signature", &v.sign("wss://r.example.com/media", &[]))]);
        assert_eq!(gate.upgrade("/media", &up), Upgrade::Accept { bearer: None });
        assert_eq!(gate.upgrade("/media?x=1", &up), Upgrade::Refuse("invalid X-Twilio-Signature"));
    }

    #[test]
    fn signalwire_tokens_travel_as_the_bearer() {
        let cfg = GateConfig::from_secret(Telephony::SignalWire, "https://r.example.com", Some("k"), false, 60, false)
            .unwrap();
        let gate = Gate::new(cfg);
        let params = h(&[("CallSid", "CA1")]);
        let sig = RequestValidator::new("k").sign("https://r.example.com/twiml", &params);
        let r = gate.answer(&post("/twiml", &h(&[("X-SignalWire-Signature", &sig)]), b"CallSid=CA1"), NOW);
        assert_eq!(r.status, 200, "{r:?}");
        assert!(!r.body.contains(CALL_TOKEN_PARAMETER), "{}", r.body);
        let marker = r#"authBearerToken=""#;
        let at = r.body.find(marker).expect("a bearer token") + marker.len();
        let token = r.body[at..at + r.body[at..].find('"').unwrap()].to_owned();
        assert_eq!(gate.upgrade("/media", &[]), Upgrade::Refuse("no Authorization: Bearer token"));
        let up = gate.upgrade("/media", &h(&[("Authorization", &format!("Bearer {token}"))]));
        assert_eq!(up, Upgrade::Accept { bearer: Some(token.clone()) });
        assert_eq!(gate.admit(&stream("CA1", serde_json::json!({})), Some(&token), NOW), Ok(()));
        assert!(gate.admit(&stream("CA2", serde_json::json!({})), Some(&token), NOW).is_err());
    }

    #[test]
    fn each_provider_answers_at_its_own_path_only() {
        for t in Telephony::ALL {
            let gate = Gate::new(GateConfig::insecure(t, "https://r.example.com"));
            for path in ["/twiml", "/texml", "/answer"] {
                let r = gate.answer(&post(path, &[], b"CallSid=CA1"), NOW);
                let mine = super::super::answer_path(t) == Some(path);
                assert_eq!(r.status, if mine { 200 } else { 404 }, "{t:?} {path}: {r:?}");
                if !mine {
                    assert!(r.body.contains(t.name()), "{}", r.body);
                }
            }
        }
    }

    #[test]
    fn vonage_takes_the_uuid_from_the_query_or_the_body() {
        let gate = Gate::new(GateConfig::insecure(Telephony::Vonage, "https://r.example.com"));
        let get = Request { method: "GET", path_and_query: "/answer?uuid=u-1&from=1", headers: &[], body: b"" };
        assert!(gate.answer(&get, NOW).body.contains(r#""uuid":"u-1""#));
        let r = gate.answer(&post("/answer", &[], br#"{"uuid":"u-2"}"#), NOW);
        assert_eq!(r.content_type, "application/json");
        assert!(r.body.contains(r#""uuid":"u-2""#), "{}", r.body);
    }

    #[test]
    fn missing_secrets_are_refused_with_what_to_set() {
        let e = |t, tokens| GateConfig::from_secret(t, "https://x", None, tokens, 60, false).unwrap_err().to_string();
        assert!(e(Telephony::Twilio, false).contains("TWILIO_AUTH_TOKEN is not set"));
        assert!(e(Telephony::Exotel, false).contains("exotel signs nothing"));
        assert!(e(Telephony::Twilio, true).contains("call tokens need"));
        let short = GateConfig::from_secret(Telephony::Telnyx, "https://x", Some("AAAA"), false, 60, false);
        assert!(short.unwrap_err().to_string().contains("32"));
        assert!(GateConfig::from_secret(Telephony::Exotel, "https://x", None, false, 60, true).is_ok());
    }
}
