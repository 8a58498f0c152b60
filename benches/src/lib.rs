//! Shared settings for the criterion benchmarks in `benches/`.

use std::time::Duration;

/// Short warm-up and measurement: the suite covers many paths and peers,
/// and this machine is shared; medians over 2 s are stable enough.
pub fn config() -> criterion::Criterion {
    criterion::Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
}
