//! Twilio request signatures (`X-Twilio-Signature`), by the algorithm of
//! twilio-python's `RequestValidator`: HMAC-SHA1 over the full URL followed
//! by the POST parameters sorted by name (each name then its value), base64,
//! compared in constant time, with the URL taken both with and without its
//! default port (Twilio's signing is inconsistent about it). Also
//! [`CallToken`], per-call tokens that bind a media stream to one call.

use base64_simd::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use url::Url;

/// Checks signatures with one account's auth token (twilio-python's
/// `RequestValidator`).
///
/// ```
/// use teledsp::signature::RequestValidator;
/// let v = RequestValidator::new("12345");
/// let params = [("CallSid".to_string(), "CA1".to_string())];
/// let sig = v.sign("https://relay.example.com/twiml", &params);
/// assert!(v.validate("https://relay.example.com:443/twiml", &params, &sig));
/// assert!(!v.validate("https://relay.example.com/twiml", &[], &sig));
/// ```
#[derive(Clone)]
pub struct RequestValidator {
    token: Vec<u8>,
}

impl std::fmt::Debug for RequestValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestValidator { token: <redacted> }")
    }
}

impl RequestValidator {
    /// A validator for `auth_token`.
    pub fn new(auth_token: &str) -> Self {
        RequestValidator { token: auth_token.as_bytes().to_vec() }
    }

    /// The signature Twilio sends for `url` and POST `params`.
    pub fn sign(&self, url: &str, params: &[(String, String)]) -> String {
        let mut sorted: Vec<&(String, String)> = params.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.token).expect("HMAC takes any key length");
        mac.update(url.as_bytes());
        for (k, v) in sorted {
            mac.update(k.as_bytes());
            mac.update(v.as_bytes());
        }
        STANDARD.encode_to_string(mac.finalize().into_bytes())
    }

    /// Whether `signature` is Twilio's for `url` and `params`, with or
    /// without the scheme's default port in the URL.
    pub fn validate(&self, url: &str, params: &[(String, String)], signature: &str) -> bool {
        let Ok(parsed) = Url::parse(url) else { return false };
        let (with, without) = port_variants(&parsed);
        let a = self.sign(&with, params);
        let b = self.sign(&without, params);
        let sig = signature.trim().as_bytes();
        // Evaluate both, then combine: no early exit on the first match.
        let ok_a = a.as_bytes().ct_eq(sig);
        let ok_b = b.as_bytes().ct_eq(sig);
        (ok_a | ok_b).into()
    }
}

/// Per-call tokens: a short-lived HMAC-SHA256 of one call's SID.
///
/// Twilio signs a `/media` WebSocket request over its URL only, which is
/// the same for every call: one captured `X-Twilio-Signature` opens any
/// number of streams. A relay that answers `/twiml` for call `CA…` with a
/// token for that SID as a `<Parameter>`, and checks it in the stream's
/// `start.customParameters`, only carries calls it answered, and only
/// within the token's lifetime. The key is derived from the auth token, so
/// a token is not a Twilio signature and cannot be used as one.
///
/// ```
/// use teledsp::signature::CallToken;
/// let t = CallToken::new("auth-token");
/// let token = t.issue("CA1", 1_000, 60);
/// assert!(t.verify(&token, "CA1", 1_030).is_ok());
/// assert!(t.verify(&token, "CA2", 1_030).is_err()); // another call
/// assert!(t.verify(&token, "CA1", 1_061).is_err()); // expired
/// ```
#[derive(Clone)]
pub struct CallToken {
    key: Vec<u8>,
}

impl std::fmt::Debug for CallToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallToken { key: <redacted> }")
    }
}

/// Why a call token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTokenRejection {
    /// Not of the form `v1.<expiry>.<mac>`.
    Malformed,
    /// Valid until `expired_at` (Unix seconds), checked at `now`.
    Expired {
        /// When it stopped being valid.
        expired_at: u64,
        /// When it was checked.
        now: u64,
    },
    /// The MAC does not match this call SID and expiry.
    Mismatch,
}

impl std::fmt::Display for CallTokenRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => f.write_str("call token is not of the form v1.<expiry>.<mac>"),
            Self::Expired { expired_at, now } => {
                write!(f, "call token expired at {expired_at} (checked at {now}, Unix seconds)")
            }
            Self::Mismatch => f.write_str("call token was not issued for this call SID"),
        }
    }
}

impl std::error::Error for CallTokenRejection {}

impl CallToken {
    /// Tokens keyed from `auth_token` (by HMAC, with a fixed label).
    pub fn new(auth_token: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"teledsp call token v1");
        CallToken { key: mac.finalize().into_bytes().to_vec() }
    }

    fn mac(&self, call_sid: &str, expiry: u64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{expiry}\n{call_sid}").as_bytes());
        mac
    }

    /// A token for `call_sid`, valid for `ttl_s` seconds from `now_unix`.
    pub fn issue(&self, call_sid: &str, now_unix: u64, ttl_s: u64) -> String {
        let expiry = now_unix.saturating_add(ttl_s);
        let tag = self.mac(call_sid, expiry).finalize().into_bytes();
        format!("v1.{expiry}.{}", URL_SAFE_NO_PAD.encode_to_string(tag))
    }

    /// Whether `token` was issued for `call_sid` and is still valid at
    /// `now_unix`. The MAC is compared in constant time.
    pub fn verify(&self, token: &str, call_sid: &str, now_unix: u64) -> Result<(), CallTokenRejection> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(expiry), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CallTokenRejection::Malformed);
        };
        let expiry: u64 = expiry.parse().map_err(|_| CallTokenRejection::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode_to_vec(tag).map_err(|_| CallTokenRejection::Malformed)?;
        self.mac(call_sid, expiry).verify_slice(&tag).map_err(|_| CallTokenRejection::Mismatch)?;
        if now_unix >= expiry {
            return Err(CallTokenRejection::Expired { expired_at: expiry, now: now_unix });
        }
        Ok(())
    }
}

/// The URL with its default port written out, and without any default port.
fn port_variants(u: &Url) -> (String, String) {
    let default = match u.scheme() {
        "https" | "wss" => 443,
        _ => 80,
    };
    let port = u.port().unwrap_or(default);
    let host = u.host_str().unwrap_or("");
    let auth = match (u.username(), u.password()) {
        ("", None) => String::new(),
        (user, None) => format!("{user}@"),
        (user, Some(p)) => format!("{user}:{p}@"),
    };
    let rest = &u[url::Position::BeforePath..];
    let with = format!("{}://{auth}{host}:{port}{rest}", u.scheme());
    let without = if port == default { format!("{}://{auth}{host}{rest}", u.scheme()) } else { with.clone() };
    (with, without)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    // The example of Twilio's security docs (token 12345, this URL and these
    // parameters); the value was computed independently with Python's
    // hmac/hashlib/base64 by the same algorithm.
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const SIG: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    fn params() -> Vec<(String, String)> {
        p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ])
    }

    #[test]
    fn twilio_documented_example() {
        let v = RequestValidator::new("12345");
        assert_eq!(v.sign(URL, &params()), SIG);
        assert!(v.validate(URL, &params(), SIG));
    }

    #[test]
    fn default_port_either_way() {
        let v = RequestValidator::new("12345");
        assert!(v.validate("https://mycompany.com:443/myapp.php?foo=1&bar=2", &params(), SIG));
        let with_port = v.sign("https://mycompany.com:443/myapp.php?foo=1&bar=2", &params());
        assert!(v.validate(URL, &params(), &with_port));
    }

    #[test]
    fn rejects_tampering() {
        let v = RequestValidator::new("12345");
        let mut changed = params();
        changed[2].1 = "9999".into();
        assert!(!v.validate(URL, &changed, SIG));
        assert!(!v.validate("https://mycompany.com/other.php?foo=1&bar=2", &params(), SIG));
        assert!(!RequestValidator::new("54321").validate(URL, &params(), SIG));
        assert!(!v.validate(URL, &params(), ""));
        assert!(!v.validate("not a url", &params(), SIG));
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let v = RequestValidator::new("12345");
        let mut rev = params();
        rev.reverse();
        assert!(v.validate(URL, &rev, SIG));
    }

    #[test]
    fn call_tokens_bind_one_sid_until_expiry_and_refuse_tampering() {
        let t = CallToken::new("12345");
        let tok = t.issue("CA1", 100, 30);
        assert_eq!(t.verify(&tok, "CA1", 100), Ok(()));
        assert_eq!(t.verify(&tok, "CA1", 129), Ok(()));
        assert_eq!(t.verify(&tok, "CA1", 130), Err(CallTokenRejection::Expired { expired_at: 130, now: 130 }));
        assert_eq!(t.verify(&tok, "CA2", 100), Err(CallTokenRejection::Mismatch));
        assert_eq!(CallToken::new("other").verify(&tok, "CA1", 100), Err(CallTokenRejection::Mismatch));
        // A later expiry with the same MAC is a forgery, not an extension.
        let forged = tok.replacen("v1.130.", "v1.9999.", 1);
        assert_eq!(t.verify(&forged, "CA1", 100), Err(CallTokenRejection::Mismatch));
        for bad in ["", "v1", "v2.130.AAAA", "v1.x.AAAA", "v1.130.@@", "v1.130.AA.BB"] {
            assert_eq!(t.verify(bad, "CA1", 100), Err(CallTokenRejection::Malformed), "{bad:?}");
        }
        // Not a Twilio signature of anything: a different key and MAC.
        assert!(!tok.contains(&RequestValidator::new("12345").sign("CA1", &[])));
    }
}
