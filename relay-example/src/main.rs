//! `teledsp-relay`: see the crate docs and `--help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use teledsp::call::{CallConfig, ModelApi, ModelAudio, RealtimeVersion, Telephony};
use teledsp::providers;
use teledsp_relay::process::{init_logging, shutdown_signal};
use teledsp_relay::server::{self, App, Drain, Limits, Settings};
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

// Parsed once at start: the size of `Serve` beside `Health` costs nothing.
#[allow(clippy::large_enum_variant)]
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
        #[arg(long, default_value = "twilio", value_name = "twilio|telnyx|plivo|vonage|exotel|signalwire")]
        telephony: Telephony,
        /// The model API. Its key comes from OPENAI_API_KEY, AZURE_OPENAI_API_KEY,
        /// GEMINI_API_KEY or ELEVENLABS_API_KEY.
        #[arg(long, default_value = "openai", value_name = "openai|azure|gemini|elevenlabs")]
        model: ModelApi,
        /// The model's WebSocket URL (Azure: the deployment's realtime URL;
        /// Gemini: the BidiGenerateContent URL; ElevenLabs: the conversation URL with agent_id).
        #[arg(
            long,
            visible_alias = "openai-url",
            env = "OPENAI_REALTIME_URL",
            default_value = "wss://api.openai.com/v1/realtime?model=gpt-realtime"
        )]
        model_url: String,
        /// OpenAI's interface: its GA or its beta event names.
        #[arg(long, default_value = "ga", value_name = "ga|beta")]
        openai_api: RealtimeVersion,
        /// The model side's audio: pcm (24 kHz PCM16, converted here), pcmu
        /// (passed through from a mu-law phone), pcma, pcm16k (ElevenLabs).
        #[arg(long, default_value = "pcm", value_name = "pcm|pcmu|pcma|pcm16k", value_parser = parse_audio)]
        audio: ModelAudio,
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
        /// Run teledsp's echo canceller on the caller's audio (the local VAD
        /// hears the cancelled audio).
        #[arg(long)]
        echo_cancel: bool,
        /// With --echo-cancel, send the model the cancelled audio too (for
        /// a model that cancels no echo itself: its server VAD stops
        /// hearing the agent).
        #[arg(long, requires = "echo_cancel")]
        echo_cancel_to_model: bool,
        /// Pause on the caller's sound over the agent, then commit the
        /// barge-in (speech lasting --commit-after-ms, or a new turn) or
        /// resume the agent from what was heard (a backchannel, a cough).
        /// Use with --echo-cancel: the level guard alone hears a caller's
        /// next words late under the resumed echo.
        #[arg(long, requires = "local_vad")]
        resume_false_interruptions: bool,
        /// With --resume-false-interruptions: speech this long is an interruption, ms.
        #[arg(long, default_value_t = 700)]
        commit_after_ms: u32,
        /// Seconds live calls may take to finish after SIGTERM; then they are
        /// closed (1001) and the process exits. A second signal exits at once.
        #[arg(long, default_value_t = 30)]
        drain_timeout: u64,
        /// Seconds after SIGTERM during which new calls are still taken while
        /// /healthz says 503: the load balancer's time to see the instance
        /// leave (then new calls get 503; the port stays open for /livez and
        /// /metrics). Within --drain-timeout.
        #[arg(long, default_value_t = 5.0)]
        pre_stop: f64,
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
    /// Exit 0 if the relay at URL answers its health check with 200, else 1
    /// (a container image's HEALTHCHECK: the image has no curl).
    Health {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 2.0)]
        timeout: f64,
    },
}

// Many small, short-lived buffers freed on other threads than the ones that
// allocated them: mimalloc's thread-free lists make that cheaper than glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `--audio`: our short names, and every spelling the engine takes.
fn parse_audio(s: &str) -> Result<ModelAudio, teledsp::Error> {
    if s == "pcm" { Ok(ModelAudio::Pcm24k) } else { s.parse() }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Health { url, timeout } => {
            let timeout =
                Duration::try_from_secs_f64(timeout).map_err(|_| format!("--timeout: not a duration: {timeout}"))?;
            let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
            let status = client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?.status();
            if status.is_success() { Ok(()) } else { Err(format!("{url}: {status}")) }
        }
        Cmd::Serve {
            listen,
            public_url,
            telephony,
            model,
            model_url,
            openai_api,
            audio,
            instructions,
            voice,
            tools_webhook,
            tools_file,
            local_vad,
            echo_cancel,
            echo_cancel_to_model,
            resume_false_interruptions,
            commit_after_ms,
            drain_timeout,
            pre_stop,
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
            let drain = Drain {
                pre_stop: Duration::try_from_secs_f64(pre_stop)
                    .map_err(|_| format!("--pre-stop must be 0 or a positive number of seconds, not {pre_stop}"))?,
                timeout: Duration::from_secs(drain_timeout),
            };
            let limits = Limits {
                header_read: secs("header-read-timeout", header_read_timeout)?,
                start: secs("start-timeout", start_timeout)?,
                media_idle: secs("media-timeout", media_timeout)?,
                session: secs("session-timeout", session_timeout)?,
                write: secs("write-timeout", write_timeout)?,
            };
            // Each provider's signing secret, from its own variable; what
            // it keys is teledsp's (the same in every relay).
            let secret = telephony.secret_env().and_then(|v| std::env::var(v).ok());
            let gate = providers::GateConfig::from_secret(
                telephony,
                &public_url,
                secret.as_deref(),
                call_tokens,
                call_token_ttl,
                insecure_no_signature,
            )
            .map_err(|e| e.to_string())?;
            let tools = match tools_file {
                Some(p) => Some(
                    serde_json::from_str(&std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?)
                        .map_err(|e| format!("{}: {e}", p.display()))?,
                ),
                None => None,
            };
            let d = CallConfig::default();
            let call = CallConfig {
                api: openai_api,
                audio,
                telephony,
                model,
                instructions: instructions.unwrap_or(d.instructions),
                voice,
                tools,
                local_vad,
                echo_cancel,
                echo_cancel_to_model,
                resume_false_interruptions,
                commit_after_ms,
                ..d
            };
            // Refuse a model/audio pair the model cannot take, before serving.
            call.model.adapter(&call).map_err(|e| format!("--model {} --audio: {e}", call.model.name()))?;
            // And every other setting the engine checks (e.g. what pausing needs).
            teledsp::call::Call::new(call.clone()).map_err(|e| e.to_string())?;
            let key_env = model.key_env();
            let settings = Settings {
                model_api_key: std::env::var(key_env).unwrap_or_default(),
                call,
                tools_webhook,
                validator: gate.validator,
                webhook_key: gate.webhook_key,
                call_tokens: gate.call_tokens,
                call_token_ttl: Duration::from_secs(call_token_ttl),
                limits,
                ..Settings::new(public_url, model_url)
            };
            let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("listen {listen}: {e}"))?;
            info!(addr = %listener.local_addr().map_err(|e| e.to_string())?, "relay listening");
            server::serve(App::new(settings), listener, shutdown_signal(), drain).await.map_err(|e| e.to_string())
        }
    }
}
