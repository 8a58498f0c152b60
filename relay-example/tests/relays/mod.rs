//! The four relays as processes, each started from its command line as a
//! user would (shared by e2e.rs and rolling.rs).
#![allow(dead_code)] // each test file uses a part of it

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PUBLIC: &str = "https://relay.example.com";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn relays() -> Vec<String> {
    let list = std::env::var("TELEDSP_E2E_RELAYS").unwrap_or_else(|_| "rust".into());
    let list: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    if list.is_empty() {
        eprintln!(
            "SKIPPED: every relay (TELEDSP_E2E_RELAYS is empty; scripts/test.sh runs them in a step of their own)"
        );
    }
    for k in ["python", "flask", "node"] {
        if !list.iter().any(|l| l == k) {
            eprintln!("SKIPPED: the {k} relay (set TELEDSP_E2E_RELAYS=rust,python,flask,node; scripts/test.sh does)");
        }
    }
    list
}

/// A relay process, killed on drop.
pub struct Relay {
    pub kind: String,
    pub child: Child,
    pub port: u16,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Relay {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn media(&self) -> String {
        format!("ws://127.0.0.1:{}/media", self.port)
    }
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The relay's command for `kind`, with the common command line.
pub fn command(kind: &str, args: &[&str]) -> Command {
    let mut c = match kind {
        "rust" => Command::new(env!("CARGO_BIN_EXE_teledsp-relay")),
        "python" | "flask" => {
            let mut c = Command::new(std::env::var("TELEDSP_PYTHON").unwrap_or_else(|_| "python3".into()));
            let file = if kind == "python" { "fastapi_relay.py" } else { "flask_relay.py" };
            c.arg(root().join("bindings/python/examples").join(file));
            c
        }
        "node" => {
            let mut c = Command::new("node");
            c.arg(root().join("bindings/node/examples/nest-gateway/dist/main.js"));
            c
        }
        other => panic!("unknown relay {other}"),
    };
    c.arg("serve").args(args).env("OPENAI_API_KEY", "sk-e2e").env("RUST_LOG", "warn").env("RELAY_LOG_LEVEL", "WARNING");
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit());
    c
}

/// Starts `kind` against `model_url`; waits for `/healthz`.
pub async fn start(kind: &str, model_url: &str, token: Option<&str>, extra: &[&str]) -> Relay {
    start_at(kind, free_port(), model_url, token, extra).await
}

/// [`start`] on `port` (a relay restarted where a proxy expects it).
pub async fn start_at(kind: &str, port: u16, model_url: &str, token: Option<&str>, extra: &[&str]) -> Relay {
    start_with(kind, port, model_url, token, extra, |_| {}).await
}

/// [`start_at`], with `tweak` applied to the command (its environment, its stderr).
pub async fn start_with(
    kind: &str,
    port: u16,
    model_url: &str,
    token: Option<&str>,
    extra: &[&str],
    tweak: impl FnOnce(&mut Command),
) -> Relay {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--listen", &listen, "--public-url", PUBLIC, "--model-url", model_url];
    args.extend_from_slice(extra);
    if token.is_none() {
        args.push("--insecure-no-signature");
    }
    let mut cmd = command(kind, &args);
    match token {
        Some(t) => cmd.env("TWILIO_AUTH_TOKEN", t),
        None => cmd.env_remove("TWILIO_AUTH_TOKEN"),
    };
    tweak(&mut cmd);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{kind} relay: {e}"));
    let relay = Relay { kind: kind.into(), child, port };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{}/healthz", relay.base())).send().await
            && r.status().is_success()
        {
            return relay;
        }
        assert!(Instant::now() < deadline, "{kind} relay did not answer /healthz within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A 300 Hz tone of `ms` milliseconds, mu-law: the callers' audio.
pub fn tone_ulaw(ms: usize) -> Vec<u8> {
    let pcm: Vec<i16> =
        (0..ms * 8).map(|i| (6000.0 * (2.0 * std::f64::consts::PI * 300.0 * i as f64 / 8000.0).sin()) as i16).collect();
    teledsp::g711::ulaw_encode_vec(&pcm)
}
