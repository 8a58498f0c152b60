//! `teledsp-relay demo`: relay + fake OpenAI + a simulated Twilio caller in
//! one process, offline. The caller says a real recorded prompt; the fake
//! answers by echoing it; what the caller heard goes to a WAV file; the
//! call's numbers are printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::caller::{self, CallerConfig};
use crate::fake_openai::{self, FakeConfig};
use teledsp_relay::server::{self, App, Drain, Settings};

/// Where the demo finds a recorded prompt when none is given: Debian's
/// asterisk prompts (`asterisk-core-sounds-en-wav`), as the tests use.
pub const PROMPT_DIRS: [&str; 2] = ["/usr/share/asterisk/sounds/en_US_f_Allison", "/usr/share/asterisk/sounds/en"];

/// A default prompt: the first of a few known recordings that exists.
pub fn default_prompt() -> Option<PathBuf> {
    let dirs = std::env::var("TELEDSP_SPEECH_DIR").into_iter().chain(PROMPT_DIRS.iter().map(|s| s.to_string()));
    for d in dirs {
        for name in ["tt-weasels.wav", "vm-intro.wav", "hello-world.wav"] {
            let p = Path::new(&d).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// CPU seconds this process has used (user + system), from /proc.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_times(pid).map(|(user, system)| user + system)
}

/// A process's CPU time so far, seconds: (user, system), from /proc.
pub fn cpu_times(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((utime / 100.0, stime / 100.0)) // USER_HZ is 100 on Linux
}

/// Resident memory of a process, bytes, from /proc.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Runs the demo with `prompt` (a WAV file), writing the caller's audio to
/// `out_wav`. Returns the printed summary.
pub async fn run(prompt: &Path, out_wav: &Path) -> Result<String, String> {
    let audio = caller::ulaw_from_wav(prompt)?;
    let fake = fake_openai::spawn(bind().await?, FakeConfig::default()).map_err(|e| e.to_string())?;
    let settings = Settings { model_api_key: "sk-demo".into(), ..Settings::new("http://127.0.0.1", fake.url()) };
    let app = App::new(settings);
    let listener = bind().await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(server::serve(
        Arc::clone(&app),
        listener,
        async {
            let _ = stop_rx.await;
        },
        // The demo's one call has ended when it stops: no window needed.
        Drain { pre_stop: Duration::ZERO, timeout: Duration::from_secs(5) },
    ));

    let cpu0 = cpu_seconds(std::process::id());
    let t0 = Instant::now();
    // The prompt, then 4 s of silence while the answer plays.
    let report = caller::run(CallerConfig::new(format!("ws://{addr}/media"), audio.clone(), 200)).await?;
    let wall = t0.elapsed();
    let cpu = cpu_seconds(std::process::id()).zip(cpu0).map(|(a, b)| a - b);
    let _ = stop_tx.send(());
    let _ = relay.await;

    if let Some(dir) = out_wav.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(out_wav, spec).map_err(|e| format!("{}: {e}", out_wav.display()))?;
    for s in teledsp::g711::ulaw_decode_vec(&report.heard) {
        w.write_sample(s).map_err(|e| e.to_string())?;
    }
    w.finalize().map_err(|e| e.to_string())?;

    let m = &app.metrics;
    let (p50, p99) = histogram_quantiles(&m.render(), "teledsp_relay_processing_seconds");
    let said_ms = audio.len() / 8;
    let heard_ms = report.heard.len() / 8;
    let mut s = String::new();
    s += &format!("prompt: {} ({said_ms} ms)\n", prompt.display());
    s += &format!(
        "caller: {} frames sent, {} received, {} marks echoed, {} clears\n",
        report.sent, report.received, report.marks_echoed, report.clears
    );
    s += &format!(
        "relay: {} frames in, {} frames out, {} barge-ins, {} malformed, {} upstream errors\n",
        m.frames_in.get(),
        m.frames_out.get(),
        m.barge_ins.get(),
        m.malformed.get(),
        m.upstream_errors.get(),
    );
    s += &format!("relay processing per message: p50 <= {p50}, p99 <= {p99} (histogram bucket bounds)\n");
    s += &format!("heard: {heard_ms} ms of audio -> {}\n", out_wav.display());
    if let Some(cpu) = cpu {
        s += &format!(
            "process CPU: {:.3} s over {:.1} s of call (relay + fake OpenAI + caller)\n",
            cpu,
            wall.as_secs_f64()
        );
    }
    if report.received == 0 || report.sent == 0 {
        return Err(format!("{s}the call carried no audio back"));
    }
    Ok(s)
}

async fn bind() -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))
}

/// Upper bounds of the buckets holding the 50th and 99th percentiles of a
/// Prometheus histogram in `text`, formatted.
pub fn histogram_quantiles(text: &str, name: &str) -> (String, String) {
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            Some((if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? }, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last().map_or(0.0, |b| b.1);
    let q = |p: f64| {
        buckets.iter().find(|b| b.1 >= p * total).map_or("n/a".to_string(), |b| {
            if b.0.is_infinite() { "inf".into() } else { format!("{:.0} us", b.0 * 1e6) }
        })
    };
    (q(0.5), q(0.99))
}
