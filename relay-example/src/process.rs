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
    use tracing_subscriber::util::SubscriberInitExt;
    let env = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    subscriber(env).init();
}

/// The subscriber [`init_logging`] installs. Its level hint is `env`'s: it
/// becomes the `log` crate's max level, so that the per-frame `log::trace!`
/// of tungstenite costs one comparison at the call site. (A filter without
/// a hint leaves it at TRACE: every such record then went through
/// tracing-log and both filters, 25-50% of the relay's user time at 50
/// calls; issue 27.)
fn subscriber(env: tracing_subscriber::EnvFilter) -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber::prelude::*;
    let hint = env.max_level_hint();
    let capped = tracing_subscriber::filter::filter_fn(|m| {
        *m.level() <= tracing::Level::INFO || !NEVER_VERBOSE.iter().any(|c| is_crate(m.target(), c))
    });
    let capped = match hint {
        Some(h) => capped.with_max_level_hint(h),
        None => capped,
    };
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(env)
            .with_filter(capped),
    )
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

#[cfg(test)]
mod tests {
    use tracing::level_filters::LevelFilter;

    use super::*;

    #[test]
    fn the_level_hint_is_the_filters_so_log_records_below_it_cost_nothing() {
        for (spec, level) in [("info", LevelFilter::INFO), ("warn", LevelFilter::WARN), ("debug", LevelFilter::DEBUG)] {
            let hint = tracing::Subscriber::max_level_hint(&subscriber(spec.into()));
            assert_eq!(hint, Some(level), "RUST_LOG={spec}");
        }
    }
}
