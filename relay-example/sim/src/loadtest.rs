//! `teledsp-relay loadtest`: N simulated Twilio calls at real-time pace
//! against a running relay whose upstream is `fake-openai --mode echo-frames`
//! (all inbound audio comes straight back, in deltas of `--echo-delta-ms`),
//! so the k-th frame a caller receives is the k-th it sent. Round trips are
//! timed on the frame that completes each delta (it waited for no later
//! frame): the added latency of the relay in both directions plus the fake's
//! turnaround. Every call carries audio both ways all the time, which is
//! heavier than a real call, where the caller and the agent take turns.

use std::time::{Duration, Instant};

use crate::caller::{self, CallerConfig};
use crate::demo::{cpu_times, rss_bytes};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The relay's Media Stream URL.
    pub target: String,
    /// Concurrent calls.
    pub calls: usize,
    /// Seconds of audio per call.
    pub duration: Duration,
    /// The relay's pid, to read its CPU and memory from /proc.
    pub relay_pid: Option<u32>,
    /// Calls are started evenly over this time.
    pub ramp: Duration,
    /// Frames per delta the fake echoes (its `--echo-delta-ms` / 20, rounded up).
    pub echo_frames: usize,
}

/// The outcome.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Calls that ran to the end without being dropped.
    pub held: usize,
    /// Calls that failed (connect error or closed early).
    pub failed: usize,
    /// Frames sent in all.
    pub sent: u64,
    /// Frames sent that never came back.
    pub lost: u64,
    /// Round-trip percentiles, ms.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest round trip, ms.
    pub max_ms: f64,
    /// Relay CPU per call-second, ms (when its pid was given).
    pub cpu_ms_per_call_second: Option<f64>,
    /// Of it, user and system (kernel) time, ms per call-second.
    pub cpu_user_sys_ms: Option<(f64, f64)>,
    /// Relay memory per call, KiB (RSS growth over the run / calls).
    pub rss_kib_per_call: Option<f64>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "calls held: {} (failed {})", self.held, self.failed)?;
        writeln!(f, "frames: {} sent, {} lost", self.sent, self.lost)?;
        writeln!(
            f,
            "round trip through the relay: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.p50_ms, self.p99_ms, self.max_ms
        )?;
        if let Some(c) = self.cpu_ms_per_call_second {
            write!(f, "relay CPU: {c:.3} ms per call-second")?;
            match self.cpu_user_sys_ms {
                Some((u, s)) => writeln!(f, " (user {u:.3}, system {s:.3})")?,
                None => writeln!(f)?,
            }
        }
        if let Some(r) = self.rss_kib_per_call {
            writeln!(f, "relay RSS: {r:.0} KiB per call")?;
        }
        Ok(())
    }
}

/// Runs the load test.
pub async fn run(cfg: LoadConfig) -> LoadReport {
    // A whole number of deltas, so every frame sent can come back.
    let group = cfg.echo_frames.max(1);
    let frames = (cfg.duration.as_millis() / 20) as usize;
    let frames = frames.div_ceil(group) * group;
    let cpu0 = cfg.relay_pid.and_then(cpu_times);
    let rss0 = cfg.relay_pid.and_then(rss_bytes);
    let mut rss_peak = rss0.unwrap_or(0);
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(cfg.calls);
    for i in 0..cfg.calls {
        let delay = cfg.ramp.mul_f64(i as f64 / cfg.calls.max(1) as f64);
        // A quiet tone: content does not matter to the echo, only its size.
        let audio: Vec<u8> = (0..frames * caller::FRAME).map(|k| if k % 16 < 8 { 0xE0 } else { 0x60 }).collect();
        let mut c = CallerConfig::new(cfg.target.clone(), audio, 0);
        c.call_sid = format!("CA{i:032}");
        c.measure_every = group;
        c.record = false;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            caller::run(c).await
        }));
    }
    let sampler = cfg.relay_pid.map(|pid| {
        tokio::spawn(async move {
            let mut peak = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                match rss_bytes(pid) {
                    Some(r) => peak = peak.max(r),
                    None => return peak,
                }
            }
        })
    });
    let mut report = LoadReport::default();
    let mut trips: Vec<Duration> = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(r)) => {
                report.sent += r.sent;
                report.lost += r.sent.saturating_sub(r.received);
                trips.extend(r.round_trips);
                if r.sent as usize == frames && r.close_code.is_none_or(|c| c == 1000) {
                    report.held += 1;
                } else {
                    report.failed += 1;
                }
            }
            _ => report.failed += 1,
        }
    }
    let elapsed = t0.elapsed();
    if let Some(s) = sampler {
        s.abort();
    }
    if let Some(pid) = cfg.relay_pid {
        rss_peak = rss_peak.max(rss_bytes(pid).unwrap_or(0));
        let cpu = cpu_times(pid).zip(cpu0).map(|(a, b)| (a.0 - b.0, a.1 - b.1));
        let call_seconds = cfg.calls as f64 * cfg.duration.as_secs_f64();
        let per = |s: f64| s * 1000.0 / call_seconds;
        report.cpu_user_sys_ms = cpu.map(|(u, s)| (per(u), per(s)));
        report.cpu_ms_per_call_second = cpu.map(|(u, s)| per(u + s));
        report.rss_kib_per_call = rss0.map(|r0| rss_peak.saturating_sub(r0) as f64 / 1024.0 / cfg.calls as f64);
    }
    let _ = elapsed;
    trips.sort();
    let q = |p: f64| {
        trips.get(((trips.len() as f64 - 1.0) * p).round() as usize).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    report.p50_ms = q(0.5);
    report.p99_ms = q(0.99);
    report.max_ms = q(1.0);
    report
}
