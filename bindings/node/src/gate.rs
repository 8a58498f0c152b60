//! `Gate` (`teledsp::providers::Gate`): the answer webhooks, the `/media`
//! upgrade and the call-token check, as the Rust relay does them.

use napi::bindgen_prelude::{Buffer, ClassInstance, Either};
use napi_derive::napi;
use serde_json::Value as Json;
use teledsp::call::Telephony;
use teledsp::providers::{Gate as InnerGate, GateConfig, Request, Upgrade as Decision};

use crate::call::{Call, Pipeline};
use crate::{Code, Result, err, to_js};

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Headers as Node gives them (`req.headers`: strings, arrays of strings
/// for repeated ones, joined as HTTP joins them) or `[name, value]` pairs.
fn headers(h: Option<Json>) -> Result<Vec<(String, String)>> {
    let bad = || err(Code::ArgType, "headers must be an object of strings (or string arrays) or [name, value] pairs");
    let value = |v: Json| match v {
        Json::String(s) => Ok(Some(s)),
        Json::Array(a) => {
            let parts: Option<Vec<String>> =
                a.into_iter().map(|x| if let Json::String(s) = x { Some(s) } else { None }).collect();
            parts.map(|p| Some(p.join(", "))).ok_or_else(bad)
        }
        Json::Null => Ok(None),
        _ => Err(bad()),
    };
    match h {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Object(m)) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                if let Some(v) = value(v)? {
                    out.push((k, v));
                }
            }
            Ok(out)
        }
        Some(Json::Array(a)) => crate::call::string_pairs(a).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// Settings of `new Gate(options)`.
#[napi(object)]
pub struct GateOptions {
    /// The telephony provider.
    #[napi(ts_type = "'twilio' | 'telnyx' | 'plivo' | 'vonage' | 'exotel' | 'signalwire'")]
    pub telephony: String,
    /// The https base URL the provider reaches.
    pub public_url: String,
    /// The value of the provider's variable (`Gate.secretEnv(telephony)`).
    pub secret: Option<String>,
    /// Issue a call token in the answer and require it at `start` (Twilio, SignalWire).
    pub call_tokens: Option<bool>,
    /// Seconds a call token is valid (60).
    pub call_token_ttl: Option<u32>,
    /// Accept unsigned requests (development only).
    pub insecure_no_signature: Option<bool>,
}

/// The answer to an answer webhook.
#[napi(object)]
pub struct Reply {
    /// 200; 400 (no CallSid to issue a call token for); 403 (a bad signature); 404 (another provider's path).
    pub status: u32,
    /// Its content type.
    pub content_type: String,
    /// The document, or a line that says what was wrong.
    pub body: String,
    /// Why a signature was refused (for the log), if it was.
    pub refused: Option<String>,
}

/// What a `/media` upgrade gets.
#[napi(object)]
pub struct Upgrade {
    /// Close the stream with 1008 and this reason; absent: take it.
    pub refused: Option<String>,
    /// SignalWire's `Authorization: Bearer` token, for `admit`.
    pub bearer: Option<String>,
}

/// What a relay checks and answers before a call's media flows, for one
/// telephony provider: its answer webhook (`/twiml`, `/texml` or `/answer`:
/// signature, document, call token), the `/media` upgrade, and the
/// stream's `start` (the call token). Without the provider's secret it
/// throws `ERR_TELEDSP_CONFIG` unless `insecureNoSignature`.
///
/// ```js
/// const { Gate } = require('teledsp');
/// const gate = new Gate({ telephony: 'plivo', publicUrl: 'https://relay.example.com', insecureNoSignature: true });
/// gate.answer('POST', '/answer', {}, Buffer.from('CallUUID=c1')).status; // 200, Plivo XML to wss://relay.example.com/media
/// gate.answer('POST', '/twiml', {}, Buffer.alloc(0)).status;             // 404: Twilio's path
/// ```
#[napi]
pub struct Gate {
    inner: InnerGate,
}

#[napi]
impl Gate {
    /// See `GateOptions`.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: GateOptions) -> Result<Self> {
        let t: Telephony = options.telephony.parse().map_err(to_js)?;
        let cfg = GateConfig::from_secret(
            t,
            &options.public_url,
            options.secret.as_deref(),
            options.call_tokens.unwrap_or(false),
            options.call_token_ttl.map(u64::from).unwrap_or(teledsp::providers::DEFAULT_CALL_TOKEN_TTL_S),
            options.insecure_no_signature.unwrap_or(false),
        )
        .map_err(to_js)?;
        Ok(Gate { inner: InnerGate::new(cfg) })
    }

    /// The variable that holds `telephony`'s signing secret (null: Exotel signs nothing).
    #[napi(catch_unwind)]
    pub fn secret_env(telephony: String) -> Result<Option<String>> {
        Ok(telephony.parse::<Telephony>().map_err(to_js)?.secret_env().map(str::to_owned))
    }

    /// The provider's name.
    #[napi(getter)]
    pub fn telephony(&self) -> String {
        self.inner.config().telephony.name().to_owned()
    }

    /// Where its answer webhook is served (null for Exotel).
    #[napi(getter)]
    pub fn answer_path(&self) -> Option<String> {
        teledsp::providers::answer_path(self.inner.config().telephony).map(str::to_owned)
    }

    /// Whether streams need a call token at `start`.
    #[napi(getter)]
    pub fn call_tokens(&self) -> bool {
        self.inner.config().call_tokens.is_some()
    }

    /// The answer to a request on an answer webhook (any of `/twiml`,
    /// `/texml`, `/answer`: another provider's gets 404). `path` with its
    /// query, as received; `nowS`: Unix seconds (default: the clock).
    #[napi(
        ts_args_type = "method: string, path: string, headers: Record<string, string | string[] | undefined> | Array<[string, string]>, body: Buffer | string, nowS?: number",
        catch_unwind
    )]
    pub fn answer(
        &self,
        method: String,
        path: String,
        headers: Option<Json>,
        body: Either<Buffer, String>,
        now_s: Option<f64>,
    ) -> Result<Reply> {
        let h = self::headers(headers)?;
        let body: &[u8] = match &body {
            Either::A(b) => b,
            Either::B(s) => s.as_bytes(),
        };
        let req = Request { method: &method, path_and_query: &path, headers: &h, body };
        let now = now_s.map(|s| s.max(0.0) as u64).unwrap_or_else(unix_now);
        let r = self.inner.answer(&req, now);
        Ok(Reply { status: r.status.into(), content_type: r.content_type.into(), body: r.body, refused: r.refused })
    }

    /// Whether the `/media` upgrade of `path` (with its query) may open a stream.
    #[napi(
        ts_args_type = "path: string, headers: Record<string, string | string[] | undefined> | Array<[string, string]>",
        catch_unwind
    )]
    pub fn upgrade(&self, path: String, headers: Option<Json>) -> Result<Upgrade> {
        Ok(match self.inner.upgrade(&path, &self::headers(headers)?) {
            Decision::Accept { bearer } => Upgrade { refused: None, bearer },
            Decision::Refuse(why) => Upgrade { refused: Some(why.into()), bearer: None },
        })
    }

    /// null if the started `call` (a Call or Pipeline) may run; else why
    /// not (close the stream with 1008). With call tokens, its token must
    /// be its call SID's and valid at `nowS` (Unix seconds).
    #[napi(catch_unwind)]
    pub fn admit(
        &self,
        call: Either<ClassInstance<'_, Call>, ClassInstance<'_, Pipeline>>,
        bearer: Option<String>,
        now_s: Option<f64>,
    ) -> Result<Option<String>> {
        let now = now_s.map(|s| s.max(0.0) as u64).unwrap_or_else(unix_now);
        let stream = match &call {
            Either::A(c) => c.stream(),
            Either::B(p) => p.stream(),
        };
        Ok(match stream {
            None => Some("the stream has not started".into()),
            Some(s) => self.inner.admit(s, bearer.as_deref(), now).err(),
        })
    }
}
