//! Helpers shared by the relay test crates.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

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
    let hl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tools", hl.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(hl, hook).await });
    (url, seen)
}
