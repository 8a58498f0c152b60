//! What the engine tells the application ([`Event`]), what it counts
//! ([`Counters`]), and the phone stream's identity ([`Stream`]).

use serde::Serialize;

/// What started a barge-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The model's `input_audio_buffer.speech_started`.
    Model,
    /// Local VAD onset on the caller's audio.
    Vad,
    /// [`Call::barge_in`](super::Call::barge_in).
    Application,
}

/// What the caller heard of an interrupted item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heard {
    /// The item.
    pub item_id: String,
    /// Audio the caller heard, ms (what the model is told).
    pub heard_ms: u64,
    /// Audio sent to the phone, ms (whole 20 ms frames).
    pub sent_ms: u64,
    /// Audio the model generated for it so far, ms.
    pub generated_ms: u64,
    /// `"truncate"` or `"delete"`: what the model was sent.
    pub action: &'static str,
}

/// Events for the application.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The phone stream started.
    Started {
        /// Twilio `streamSid`.
        stream_sid: String,
        /// Twilio `callSid`.
        call_sid: Option<String>,
        /// The TwiML `<Parameter>`s.
        custom_parameters: serde_json::Map<String, serde_json::Value>,
    },
    /// The caller pressed a key.
    Dtmf {
        /// The key.
        digit: String,
    },
    /// The phone stream ended; nothing more goes to the phone.
    Stopped,
    /// The model called a function: answer with [`Call::tool_result`](super::Call::tool_result).
    ToolCall {
        /// Id to answer with.
        call_id: String,
        /// Function name.
        name: String,
        /// JSON arguments as the model wrote them.
        arguments: String,
    },
    /// The caller talked over the agent.
    BargeIn {
        /// When, ms.
        at_ms: u64,
        /// What detected it.
        cause: Cause,
        /// The interrupted items and what was heard of each.
        items: Vec<Heard>,
        /// With `resume_false_interruptions`: how long the agent was paused
        /// before this commit, ms (absent when it was not paused).
        #[serde(skip_serializing_if = "Option::is_none")]
        paused_ms: Option<u64>,
    },
    /// With `resume_false_interruptions`: the caller made a sound over the
    /// agent; the phone was cleared and the agent's audio is held. Either
    /// a `barge_in` (it was an interruption) or a `resumed` follows.
    Paused {
        /// When, ms.
        at_ms: u64,
        /// What detected it.
        cause: Cause,
    },
    /// The sound ended before it became an interruption (a backchannel, a
    /// cough): the agent's audio is playing again from what the caller had
    /// heard, `rewound_ms` earlier; the model was told nothing.
    Resumed {
        /// When, ms.
        at_ms: u64,
        /// How long the agent was silent, ms.
        paused_ms: u64,
        /// How far before the heard point playback restarted, ms.
        rewound_ms: u64,
    },
    /// The model sent an `error` event.
    ModelError {
        /// Its code.
        code: Option<String>,
        /// Its message.
        message: String,
    },
    /// A message of a type the adapter does not know arrived: nothing was
    /// done with it. A relay logs these (rate-limited): a provider may have
    /// added or renamed a message.
    Unknown {
        /// `"phone"` or `"model"`.
        peer: &'static str,
        /// The message's type as it was spelled.
        kind: String,
    },
}

impl Event {
    /// The event as a JSON object with a `type` field (what the bindings hand out).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }
}

/// Counters a call keeps (a relay's metrics sum them).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Phone audio frames received.
    pub frames_in: u64,
    /// 20 ms frames sent to the phone.
    pub frames_out: u64,
    /// Inbound frames dropped while the model connection opened (beyond `hold_ms`).
    pub inbound_dropped: u64,
    /// Barge-ins that interrupted something.
    pub barge_ins: u64,
    /// Model audio deltas dropped: their item was interrupted, or the phone
    /// stream was not running.
    pub deltas_dropped: u64,
    /// Mark echoes ignored because their audio was cleared.
    pub stale_marks: u64,
    /// `error` events from the model.
    pub model_errors: u64,
    /// Phone messages skipped as malformed.
    pub malformed_phone: u64,
    /// Model events skipped as malformed.
    pub malformed_model: u64,
    /// Phone audio that arrived after later audio had been passed on
    /// (Telnyx numbers its chunks), dropped.
    pub frames_late: u64,
    /// Phone audio chunks that never arrived (a gap the reorder window
    /// gave up on).
    pub frames_missing: u64,
    /// Phone messages of a type the adapter does not know.
    pub unknown_phone: u64,
    /// Model messages of a type the adapter does not know.
    pub unknown_model: u64,
    /// Pauses on a caller's sound (`resume_false_interruptions`; absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub pauses: u64,
    /// Pauses that resumed: false interruptions (absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub resumes: u64,
    /// With the echo canceller on: its ERLE estimate, dB (absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub echo_erle_db: u64,
    /// With the echo canceller on: the echo's bulk delay in use, ms
    /// (absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub echo_delay_ms: u64,
    /// With the echo canceller on: frames where the caller talked over
    /// the agent's echo (absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub double_talk_frames: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The phone stream's identity, from its start message.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Twilio `streamSid`.
    pub stream_sid: String,
    /// Twilio `callSid`.
    pub call_sid: Option<String>,
    /// The TwiML `<Parameter>`s.
    pub custom_parameters: serde_json::Map<String, serde_json::Value>,
}
