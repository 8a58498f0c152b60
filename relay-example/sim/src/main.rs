//! `teledsp-sim`: the relay's test rig, apart from the production binary:
//! fake model servers, simulated callers, the demo, the load test and the
//! soak. See the crate docs and `--help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use teledsp_relay::process::{init_logging, shutdown_signal};
use teledsp_sim::fake_openai::{self, FakeConfig, Mode};
use teledsp_sim::{demo, fake_models, loadtest, soak};
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "teledsp-sim",
    version,
    about = "The relay's test rig: fake OpenAI / Gemini / ElevenLabs servers, simulated phone callers, the offline demo, load test and soak"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum FakeModelApi {
    Gemini,
    Elevenlabs,
}

#[derive(Clone, Copy, ValueEnum)]
enum FakeMode {
    /// Server VAD; each utterance echoed back as a response.
    Conversation,
    /// Every appended frame answered at once (for loadtest).
    EchoFrames,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a local stand-in for the OpenAI Realtime API.
    FakeOpenai {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        #[arg(long, value_enum, default_value = "conversation")]
        mode: FakeMode,
        /// Answer the first utterance with a call of this function.
        #[arg(long)]
        tool: Option<String>,
        /// echo-frames: ms of audio per echoed delta (0: one delta per append).
        #[arg(long, default_value_t = 100)]
        echo_delta_ms: u64,
    },
    /// Run a local stand-in for Gemini Live or ElevenLabs Agents (scripted:
    /// an answer after the caller's first turn, optionally cut by a barge-in).
    FakeModel {
        #[arg(long, default_value = "127.0.0.1:8091")]
        listen: String,
        #[arg(long, value_enum)]
        api: FakeModelApi,
        /// Caller audio before the answer, ms.
        #[arg(long, default_value_t = 1000)]
        turn_after_ms: u64,
        /// The answer's length, ms.
        #[arg(long, default_value_t = 2000)]
        answer_ms: u64,
        /// Report the caller talking this long after the answer started, ms.
        #[arg(long)]
        barge_in_at_ms: Option<u64>,
    },
    /// Relay + fake OpenAI + a simulated caller in one process, offline.
    Demo {
        /// The caller's speech (WAV, 16-bit mono); default: a Debian asterisk prompt.
        #[arg(long)]
        prompt: Option<PathBuf>,
        /// Where to write what the caller heard.
        #[arg(long, default_value = "out/heard.wav")]
        out: PathBuf,
    },
    /// Long calls against a running relay with a share of misbehaving
    /// callers; checks memory stays flat, no call leaks, no frame is lost.
    Soak {
        /// The relay's Media Stream URL.
        #[arg(long, default_value = "ws://127.0.0.1:8080/media")]
        target: String,
        #[arg(long, default_value_t = 200)]
        calls: usize,
        /// Seconds of the run.
        #[arg(long, default_value_t = 600)]
        duration: u64,
        /// Share of the callers that misbehave.
        #[arg(long, default_value_t = 0.05)]
        misbehave: f64,
        /// The relay's pid (memory and file descriptors, from /proc).
        #[arg(long)]
        relay_pid: u32,
        /// Seconds over which calls are started.
        #[arg(long, default_value_t = 5.0)]
        ramp: f64,
    },
    /// N simulated Twilio calls at real-time pace against a running relay.
    Loadtest {
        /// The relay's Media Stream URL.
        #[arg(long, default_value = "ws://127.0.0.1:8080/media")]
        target: String,
        #[arg(long, default_value_t = 100)]
        calls: usize,
        /// Seconds per call.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// The relay's pid, for its CPU and memory (from /proc).
        #[arg(long)]
        relay_pid: Option<u32>,
        /// Seconds over which calls are started.
        #[arg(long, default_value_t = 2.0)]
        ramp: f64,
        /// The fake's `--echo-delta-ms`: round trips are timed on the frame
        /// that completes each echoed delta.
        #[arg(long, default_value_t = 100)]
        echo_delta_ms: u64,
    },
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    // The test peers run on one thread: on a small machine they share with
    // the relay they measure, a second worker only adds cross-thread wake-ups.
    let rt = match cli.cmd {
        Cmd::Demo { .. } => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::FakeOpenai { listen, mode, tool, echo_delta_ms } => {
            let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("listen {listen}: {e}"))?;
            let mode = match mode {
                FakeMode::Conversation => Mode::Conversation,
                FakeMode::EchoFrames => Mode::EchoFrames,
            };
            let fake = fake_openai::spawn(listener, FakeConfig { mode, tool, echo_delta_ms, ..FakeConfig::default() })
                .map_err(|e| e.to_string())?;
            info!(url = %fake.url(), "fake OpenAI Realtime listening");
            shutdown_signal().await;
            Ok(())
        }
        Cmd::FakeModel { listen, api, turn_after_ms, answer_ms, barge_in_at_ms } => {
            let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("listen {listen}: {e}"))?;
            let api = match api {
                FakeModelApi::Gemini => fake_models::Api::Gemini,
                FakeModelApi::Elevenlabs => fake_models::Api::ElevenLabs,
            };
            let cfg = fake_models::ModelFakeConfig { api, turn_after_ms, answer_ms, barge_in_at_ms };
            let fake = fake_models::spawn(listener, cfg).map_err(|e| e.to_string())?;
            info!(url = %fake.url(), "fake model listening");
            shutdown_signal().await;
            Ok(())
        }
        Cmd::Demo { prompt, out } => {
            let prompt = prompt.or_else(demo::default_prompt).ok_or(
                "no prompt: pass --prompt FILE.wav, or install Debian's asterisk-core-sounds-en-wav (scripts/demo.sh does)",
            )?;
            let summary = demo::run(&prompt, &out).await?;
            print!("{summary}");
            Ok(())
        }
        Cmd::Soak { target, calls, duration, misbehave, relay_pid, ramp } => {
            if !(0.0..=1.0).contains(&misbehave) {
                return Err(format!("--misbehave is a share between 0 and 1, not {misbehave}"));
            }
            let cfg = soak::SoakConfig {
                target,
                calls,
                duration: Duration::from_secs(duration),
                misbehave,
                relay_pid,
                ramp: Duration::from_secs_f64(ramp),
            };
            let (report, ok) = soak::run(cfg).await;
            print!("{report}");
            if ok { Ok(()) } else { Err("soak failed (see the report)".into()) }
        }
        Cmd::Loadtest { target, calls, duration, relay_pid, ramp, echo_delta_ms } => {
            let cfg = loadtest::LoadConfig {
                target,
                calls,
                duration: Duration::from_secs(duration),
                relay_pid,
                ramp: Duration::from_secs_f64(ramp),
                // The fake sends once at least this much audio is in: whole 20 ms appends.
                echo_frames: echo_delta_ms.div_ceil(20).max(1) as usize,
            };
            print!("{}", loadtest::run(cfg).await);
            Ok(())
        }
    }
}
