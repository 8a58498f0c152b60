//! Helpers shared by the relay test crates (each uses some of them).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use std::time::Duration;

use serde_json::{Value, json};
use teledsp_relay::server::{self, App, Drain, Settings};
use teledsp_sim::fake_openai::{self, Fake, FakeConfig};
use tokio::net::TcpListener;

/// A tools webhook on loopback that records each request body and answers
/// `{"temperature_c": 21}`; returns its URL and the bodies seen.
pub async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::Json;
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    let hook = axum::Router::new().route(
        "/tools",
        post(move |Json(body): Json<Value>| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(body);
                Json(json!({"temperature_c": 21}))
            }
        }),
    );
    let hl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tools", hl.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(hl, hook).await });
    (url, seen)
}

pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub async fn fake(cfg: FakeConfig) -> Fake {
    fake_openai::spawn(listener().await, cfg).unwrap()
}

pub struct Relay {
    pub app: Arc<App>,
    pub addr: std::net::SocketAddr,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Relay {
    pub fn media(&self) -> String {
        format!("ws://{}/media", self.addr)
    }
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.app.metrics.render();
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
    }
}

/// The in-process relays' pre-stop window (short: the tests wait it out).
pub const PRE_STOP: Duration = Duration::from_millis(400);

pub async fn relay_with(model_url: String, f: impl FnOnce(&mut Settings)) -> Relay {
    let mut settings =
        Settings { model_api_key: "sk-test".into(), ..Settings::new("https://relay.example.com", model_url) };
    f(&mut settings);
    let app = App::new(settings);
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(
        app.clone(),
        l,
        async {
            let _ = rx.await;
        },
        Drain { pre_stop: PRE_STOP, timeout: Duration::from_secs(5) },
    ));
    Relay { app, addr, stop: Some(stop), task }
}

pub type ServerSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// An OpenAI stand-in that takes one connection and runs `script` on it;
/// returns its URL.
pub async fn scripted_upstream<F, Fut>(script: F) -> String
where
    F: FnOnce(ServerSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        script(tokio_tungstenite::accept_async(tcp).await.unwrap()).await;
    });
    format!("ws://{addr}/v1/realtime")
}

pub fn tone_ulaw(ms: usize, hz: f64, amp: f64) -> Vec<u8> {
    let pcm: Vec<i16> =
        (0..ms * 8).map(|i| (amp * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16).collect();
    teledsp::g711::ulaw_encode_vec(&pcm)
}
