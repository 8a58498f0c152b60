//! `providers::Gate` on arbitrary requests: no panic; only the statuses it
//! documents; and with every provider's key set, no arbitrary request is
//! ever answered 200, opens the `/media` upgrade (Twilio, SignalWire) or
//! passes the call-token check: a forgery would be a fuzz finding. The
//! first byte picks the provider and whether keys are set; the rest is
//! split on 0xFF into method, path, header lines (`name: value`), body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teledsp::call::{Stream, Telephony};
use teledsp::providers::{Gate, GateConfig, Request, Upgrade};

// A valid Ed25519 public key (of the secret key [3; 32]), base64.
const TELNYX_KEY: &str = "7UkoxijRwsbq6QM4kFmVYSlZJzpcY/k2NsFGFKyHN9E=";

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let telephony = Telephony::ALL[sel as usize % 6];
    let keyed = sel & 0x80 != 0;
    let cfg = if keyed {
        let secret = if telephony == Telephony::Telnyx { TELNYX_KEY } else { "fuzz-secret" };
        let tokens = matches!(telephony, Telephony::Twilio | Telephony::SignalWire);
        match GateConfig::from_secret(telephony, "https://relay.example.com", Some(secret), tokens, 60, true) {
            Ok(c) => c,
            Err(e) => panic!("{telephony:?}: {e}"),
        }
    } else {
        GateConfig::insecure(telephony, "https://relay.example.com")
    };
    let gate = Gate::new(cfg);
    let mut parts = rest.split(|&b| b == 0xFF);
    let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
    let method = text(parts.next());
    let path = text(parts.next());
    let headers: Vec<(String, String)> = text(parts.next())
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let body = parts.next().unwrap_or_default();
    let req = Request { method: &method, path_and_query: &path, headers: &headers, body };
    let reply = gate.answer(&req, 1_700_000_000);
    assert!([200, 400, 403, 404].contains(&reply.status), "{reply:?}");
    assert_eq!(reply.refused.is_some(), reply.status == 403, "{reply:?}");
    if keyed && telephony != Telephony::Exotel {
        assert_ne!(reply.status, 200, "{telephony:?}: an arbitrary request was answered: {reply:?}");
    }
    let up = gate.upgrade(&path, &headers);
    if keyed && telephony == Telephony::Twilio {
        assert!(matches!(up, Upgrade::Refuse(_)), "an arbitrary upgrade was taken: {up:?}");
    }
    let stream = Stream {
        stream_sid: "MZ".into(),
        call_sid: Some(text(parts.next())),
        custom_parameters: serde_json::from_slice(body).unwrap_or_default(),
    };
    let bearer = headers.first().map(|(_, v)| v.as_str());
    let admitted = gate.admit(&stream, bearer, 1_700_000_000);
    if keyed && matches!(telephony, Telephony::Twilio | Telephony::SignalWire) {
        assert!(admitted.is_err(), "an arbitrary stream was admitted");
    }
});
