//! `teledsp-relay`: see the crate docs and `--help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use teledsp::call::{CallConfig, ModelApi, Telephony};
use teledsp::call::{ModelAudio as Audio, RealtimeVersion as Api};
use teledsp::signature::{CallToken, RequestValidator};
use teledsp_relay::fake_models;
use teledsp_relay::fake_openai::{self, FakeConfig, Mode};
use teledsp_relay::server::{self, App, Limits, Settings};
use teledsp_relay::{demo, loadtest, providers, soak};
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "teledsp-relay",
    version,
    about = "Phone media streams (Twilio, Telnyx, Plivo, Vonage, Exotel, SignalWire) <-> speech-to-speech models (OpenAI, Azure, Gemini Live, ElevenLabs), audio and barge-in by teledsp"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum ApiArg {
    Ga,
    Beta,
}

#[derive(Clone, Copy, ValueEnum)]
enum AudioArg {
    /// 24 kHz PCM16 to the model, converted by teledsp.
    Pcm,
    /// G.711 mu-law (passed through from a mu-law phone).
    Pcmu,
    /// G.711 A-law (OpenAI `audio/pcma`).
    Pcma,
    /// 16 kHz PCM16 (ElevenLabs `pcm_16000`).
    Pcm16k,
}

#[derive(Clone, Copy, ValueEnum)]
enum TelephonyArg {
    Twilio,
    Telnyx,
    Plivo,
    Vonage,
    Exotel,
    Signalwire,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModelArg {
    Openai,
    Azure,
    Gemini,
    Elevenlabs,
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
    /// Run the relay.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The https base URL Twilio reaches (Stream URL and signature checks).
        #[arg(long, env = "PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
        /// The phone side's protocol: its answer endpoint (/twiml, /texml,
        /// /answer), signature check and media messages.
        #[arg(long, value_enum, default_value = "twilio")]
        telephony: TelephonyArg,
        /// The model API. Its key comes from OPENAI_API_KEY, AZURE_OPENAI_API_KEY,
        /// GEMINI_API_KEY or ELEVENLABS_API_KEY.
        #[arg(long, value_enum, default_value = "openai")]
        model: ModelArg,
        /// The model's WebSocket URL (Azure: the deployment's realtime URL;
        /// Gemini: the BidiGenerateContent URL; ElevenLabs: the conversation URL with agent_id).
        #[arg(
            long,
            visible_alias = "model-url",
            env = "OPENAI_REALTIME_URL",
            default_value = "wss://api.openai.com/v1/realtime?model=gpt-realtime"
        )]
        openai_url: String,
        #[arg(long, value_enum, default_value = "ga")]
        openai_api: ApiArg,
        #[arg(long, value_enum, default_value = "pcm")]
        audio: AudioArg,
        #[arg(long)]
        instructions: Option<String>,
        #[arg(long, default_value = "marin")]
        voice: String,
        /// POST tool calls here: {call_id, name, arguments, call_sid, custom_parameters}.
        #[arg(long)]
        tools_webhook: Option<String>,
        /// A JSON file with the session's `tools` array.
        #[arg(long)]
        tools_file: Option<PathBuf>,
        /// Barge in on local VAD onset too, not only on OpenAI's speech_started.
        #[arg(long)]
        local_vad: bool,
        /// Seconds live calls may take to finish after SIGTERM; then they are
        /// closed (1001) and the process exits. A second signal exits at once.
        #[arg(long, default_value_t = 30)]
        drain_timeout: u64,
        /// Seconds a client has to send a whole request head (also closes
        /// keep-alive connections idle that long).
        #[arg(long, default_value_t = 10.0)]
        header_read_timeout: f64,
        /// Seconds from the /media upgrade to Twilio's `start`.
        #[arg(long, default_value_t = 5.0)]
        start_timeout: f64,
        /// Seconds without inbound media before a live call is ended.
        #[arg(long, default_value_t = 10.0)]
        media_timeout: f64,
        /// Seconds from `start` to the upstream's `session.updated` (connection
        /// included); past it the stream is closed and the TwiML fallback plays.
        #[arg(long, default_value_t = 10.0)]
        session_timeout: f64,
        /// Seconds one write to a peer may take before the call is ended.
        #[arg(long, default_value_t = 5.0)]
        write_timeout: f64,
        /// Issue a per-call token in /twiml and require it in `start`
        /// (needs TWILIO_AUTH_TOKEN): a replayed /media signature then opens
        /// no call the relay did not answer /twiml for.
        #[arg(long)]
        call_tokens: bool,
        /// Seconds a call token stays valid after /twiml answered.
        #[arg(long, default_value_t = 60)]
        call_token_ttl: u64,
        /// Accept unsigned requests when TWILIO_AUTH_TOKEN is not set (development only).
        #[arg(long)]
        insecure_no_signature: bool,
    },
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

// Many small, short-lived buffers freed on other threads than the ones that
// allocated them: mimalloc's thread-free lists make that cheaper than glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Crates whose debug and trace output carries the upstream handshake (its
/// `Authorization` header) or whole messages (caller audio): capped at INFO
/// whatever `RUST_LOG` says.
const NEVER_VERBOSE: &[&str] =
    &["tungstenite", "tokio_tungstenite", "hyper", "hyper_util", "h2", "reqwest", "rustls", "axum", "tower", "http"];

fn main() -> ExitCode {
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
    let cli = Cli::parse();
    // The test peers run on one thread: on a small machine they share with
    // the relay they measure, a second worker only adds cross-thread wake-ups.
    let rt = match cli.cmd {
        Cmd::FakeOpenai { .. } | Cmd::FakeModel { .. } | Cmd::Loadtest { .. } | Cmd::Soak { .. } => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
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
async fn shutdown_signal() {
    signal().await;
    tokio::spawn(async {
        signal().await;
        error!("second signal: exiting now");
        std::process::exit(1);
    });
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Serve {
            listen,
            public_url,
            telephony,
            model,
            openai_url,
            openai_api,
            audio,
            instructions,
            voice,
            tools_webhook,
            tools_file,
            local_vad,
            drain_timeout,
            header_read_timeout,
            start_timeout,
            media_timeout,
            session_timeout,
            write_timeout,
            call_tokens,
            call_token_ttl,
            insecure_no_signature,
        } => {
            let secs = |name: &str, s: f64| {
                Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("--{name} must be a positive number of seconds, not {s}"))
            };
            let limits = Limits {
                header_read: secs("header-read-timeout", header_read_timeout)?,
                start: secs("start-timeout", start_timeout)?,
                media_idle: secs("media-timeout", media_timeout)?,
                session: secs("session-timeout", session_timeout)?,
                write: secs("write-timeout", write_timeout)?,
            };
            let telephony = match telephony {
                TelephonyArg::Twilio => Telephony::Twilio,
                TelephonyArg::Telnyx => Telephony::Telnyx,
                TelephonyArg::Plivo => Telephony::Plivo,
                TelephonyArg::Vonage => Telephony::Vonage,
                TelephonyArg::Exotel => Telephony::Exotel,
                TelephonyArg::Signalwire => Telephony::SignalWire,
            };
            let model = match model {
                ModelArg::Openai => ModelApi::OpenAi,
                ModelArg::Azure => ModelApi::Azure,
                ModelArg::Gemini => ModelApi::Gemini,
                ModelArg::Elevenlabs => ModelApi::ElevenLabs,
            };
            // Each provider's signing secret, from its own variable.
            let env = providers::secret_env(telephony);
            let secret = env.and_then(|v| std::env::var(v).ok()).filter(|t| !t.is_empty());
            let twilio_scheme = matches!(telephony, Telephony::Twilio | Telephony::SignalWire);
            let token = if twilio_scheme { secret.clone() } else { None };
            // SignalWire signs no stream upgrade: its per-call bearer token
            // is how /media knows the call, so it is always on.
            let call_tokens = match (&token, call_tokens || telephony == Telephony::SignalWire) {
                (Some(t), true) => Some(CallToken::new(t)),
                (None, true) if call_tokens => {
                    return Err("--call-tokens needs TWILIO_AUTH_TOKEN or SIGNALWIRE_SIGNING_KEY (the tokens' key is derived from it)".into());
                }
                _ => None,
            };
            let webhook_key = match (&secret, twilio_scheme) {
                (Some(s), false) => providers::WebhookKey::from_env_value(telephony, s)?,
                _ => None,
            };
            let validator = token.map(|t| RequestValidator::new(&t));
            if validator.is_none() && webhook_key.is_none() && !insecure_no_signature {
                return Err(match env {
                    Some(v) => format!(
                        "{v} is not set: refusing to accept unsigned {} requests (pass --insecure-no-signature for local development)",
                        telephony.name()
                    ),
                    None => {
                        "exotel signs nothing: pass --insecure-no-signature and restrict /media at the network edge"
                            .into()
                    }
                });
            }
            let tools = match tools_file {
                Some(p) => Some(
                    serde_json::from_str(&std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?)
                        .map_err(|e| format!("{}: {e}", p.display()))?,
                ),
                None => None,
            };
            let d = CallConfig::default();
            let call = CallConfig {
                api: match openai_api {
                    ApiArg::Ga => Api::Ga,
                    ApiArg::Beta => Api::Beta,
                },
                audio: match audio {
                    AudioArg::Pcm => Audio::Pcm24k,
                    AudioArg::Pcmu => Audio::Pcmu,
                    AudioArg::Pcma => Audio::Pcma,
                    AudioArg::Pcm16k => Audio::Pcm16k,
                },
                telephony,
                model,
                instructions: instructions.unwrap_or(d.instructions),
                voice,
                tools,
                local_vad,
                ..d
            };
            // Refuse a model/audio pair the model cannot take, before serving.
            call.model.adapter(&call).map_err(|e| format!("--model {} --audio: {e}", call.model.name()))?;
            let key_env = model.key_env();
            let settings = Settings {
                openai_api_key: std::env::var(key_env).unwrap_or_default(),
                call,
                tools_webhook,
                validator,
                webhook_key,
                call_tokens,
                call_token_ttl: Duration::from_secs(call_token_ttl),
                limits,
                ..Settings::new(public_url, openai_url)
            };
            let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("listen {listen}: {e}"))?;
            info!(addr = %listener.local_addr().map_err(|e| e.to_string())?, "relay listening");
            server::serve(App::new(settings), listener, shutdown_signal(), Duration::from_secs(drain_timeout))
                .await
                .map_err(|e| e.to_string())
        }
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
