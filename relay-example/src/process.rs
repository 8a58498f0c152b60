//! The process around a relay or a test peer: logging (with the crates that
//! would log secrets or audio capped at INFO) and shutdown signals.

/// Crates whose debug and trace output carries the upstream handshake (its
/// `Authorization` header) or whole messages (caller audio): capped at INFO
/// whatever `RUST_LOG` says.
const NEVER_VERBOSE: &[&str] =
    &["tungstenite", "tokio_tungstenite", "hyper", "hyper_util", "h2", "reqwest", "rustls", "axum", "tower", "http"];

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), with
/// [`NEVER_VERBOSE`] crates capped at INFO.
pub fn init_logging() {
    use tracing_subscriber::prelude::*;
    let env = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let capped = tracing_subscriber::filter::filter_fn(|m| {
        *m.level() <= tracing::Level::INFO || !NEVER_VERBOSE.iter().any(|c| is_crate(m.target(), c))
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(env)
                .with_filter(capped),
        )
        .init();
}

/// Whether `target` is crate `name` or one of its modules.
fn is_crate(target: &str, name: &str) -> bool {
    target.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// SIGTERM or SIGINT.
async fn signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The first signal starts the shutdown; a second one exits at once (status 1).
pub async fn shutdown_signal() {
    signal().await;
    tokio::spawn(async {
        signal().await;
        tracing::error!("second signal: exiting now");
        std::process::exit(1);
    });
}
