# Hand-written stubs of the native module; teledsp/__init__.pyi re-exports them.
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypedDict, final

from typing_extensions import Buffer as _Buffer

__version__: str
ISA: str
GIL_RELEASE_BYTES: int

class TeledspError(ValueError): ...
class InvalidLengthError(TeledspError): ...
class UnsupportedRateError(TeledspError): ...
class MalformedMessageError(TeledspError): ...
class ConfigError(TeledspError): ...
class UnknownToolCallError(TeledspError): ...

def ulaw_encode(pcm: _Buffer, /) -> bytes: ...
def ulaw_decode(data: _Buffer, /) -> bytes: ...
def alaw_encode(pcm: _Buffer, /) -> bytes: ...
def alaw_decode(data: _Buffer, /) -> bytes: ...
def ulaw_to_alaw(data: _Buffer, /) -> bytes: ...
def alaw_to_ulaw(data: _Buffer, /) -> bytes: ...

# CPython's audioop, exactly (teledsp.audioop gives them their audioop names).
def audioop_getsample(fragment: _Buffer, width: int, index: int, /) -> int: ...
def audioop_max(fragment: _Buffer, width: int, /) -> int: ...
def audioop_minmax(fragment: _Buffer, width: int, /) -> tuple[int, int]: ...
def audioop_avg(fragment: _Buffer, width: int, /) -> int: ...
def audioop_rms(fragment: _Buffer, width: int, /) -> int: ...
def audioop_avgpp(fragment: _Buffer, width: int, /) -> int: ...
def audioop_maxpp(fragment: _Buffer, width: int, /) -> int: ...
def audioop_cross(fragment: _Buffer, width: int, /) -> int: ...
def audioop_findfit(fragment: _Buffer, reference: _Buffer, /) -> tuple[int, float]: ...
def audioop_findfactor(fragment: _Buffer, reference: _Buffer, /) -> float: ...
def audioop_findmax(fragment: _Buffer, length: int, /) -> int: ...
def audioop_mul(fragment: _Buffer, width: int, factor: float, /) -> bytes: ...
def audioop_tomono(fragment: _Buffer, width: int, lfactor: float, rfactor: float, /) -> bytes: ...
def audioop_tostereo(fragment: _Buffer, width: int, lfactor: float, rfactor: float, /) -> bytes: ...
def audioop_add(fragment1: _Buffer, fragment2: _Buffer, width: int, /) -> bytes: ...
def audioop_bias(fragment: _Buffer, width: int, bias: int, /) -> bytes: ...
def audioop_reverse(fragment: _Buffer, width: int, /) -> bytes: ...
def audioop_byteswap(fragment: _Buffer, width: int, /) -> bytes: ...
def audioop_lin2lin(fragment: _Buffer, width: int, newwidth: int, /) -> bytes: ...
def audioop_lin2ulaw(fragment: _Buffer, width: int, /) -> bytes: ...
def audioop_ulaw2lin(fragment: _Buffer, width: int, /) -> bytes: ...
def audioop_lin2alaw(fragment: _Buffer, width: int, /) -> bytes: ...
def audioop_alaw2lin(fragment: _Buffer, width: int, /) -> bytes: ...
def audioop_lin2adpcm(
    fragment: _Buffer, width: int, state: tuple[int, int] | None, /
) -> tuple[bytes, tuple[int, int]]: ...
def audioop_adpcm2lin(
    fragment: _Buffer, width: int, state: tuple[int, int] | None, /
) -> tuple[bytes, tuple[int, int]]: ...
def audioop_ratecv(
    fragment: _Buffer,
    width: int,
    nchannels: int,
    inrate: int,
    outrate: int,
    state: tuple[int, tuple[tuple[int, int], ...]] | None,
    weightA: int = 1,
    weightB: int = 0,
    /,
) -> tuple[bytes, tuple[int, tuple[tuple[int, int], ...]]]: ...

@final
class RatecvState:
    """teledsp.ratecv's state: a resampler's history (immutable)."""

def ratecv(
    fragment: _Buffer,
    width: int,
    nchannels: int,
    inrate: int,
    outrate: int,
    state: RatecvState | None,
) -> tuple[bytes, RatecvState]:
    """audioop.ratecv's calling convention over teledsp's anti-aliased resampler."""

Quality = Literal["telephony", "transparent", "low_latency"]

@final
class Resampler:
    def __init__(self, in_rate: int, out_rate: int, quality: Quality = "telephony") -> None: ...
    # bytes-like/int16 in -> bytes; float32 array in -> float32 array (numpy, else array('f')).
    def process(self, pcm: _Buffer) -> Any: ...
    def process_from_ulaw(self, data: _Buffer) -> bytes: ...
    def process_from_alaw(self, data: _Buffer) -> bytes: ...
    def process_to_ulaw(self, pcm: _Buffer) -> bytes: ...
    def process_to_alaw(self, pcm: _Buffer) -> bytes: ...
    def flush(self) -> bytes: ...
    def flush_f32(self) -> Any: ...
    def reset(self) -> None: ...
    def output_len(self, n: int) -> int: ...
    @property
    def in_rate(self) -> int: ...
    @property
    def out_rate(self) -> int: ...
    @property
    def quality(self) -> Quality: ...
    @property
    def latency_ms(self) -> float: ...

@final
class Framer:
    def __init__(self, frame_bytes: int, pad: int | bytes | None = None) -> None: ...
    def push(self, data: _Buffer) -> list[bytes]: ...
    def flush(self) -> bytes | None: ...
    def reset(self) -> None: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def pending(self) -> int: ...
    @property
    def frames_emitted(self) -> int: ...

@final
class VadEvent:
    @property
    def kind(self) -> Literal["speech_start", "speech_end"]: ...
    @property
    def at_ms(self) -> float: ...

@final
class Vad:
    def __init__(
        self,
        sample_rate: Literal[8000, 16000, 24000] = 8000,
        frame_ms: Literal[10, 20, 30] = 20,
        *,
        threshold_on: float | None = None,
        threshold_off: float | None = None,
        min_speech_ms: int | None = None,
        min_silence_ms: int | None = None,
        pre_roll_ms: int | None = None,
    ) -> None: ...
    def process(self, frame: _Buffer) -> float: ...
    def process_ulaw(self, frame: _Buffer) -> float: ...
    def reset(self) -> None: ...
    @property
    def event(self) -> VadEvent | None: ...
    @property
    def is_speaking(self) -> bool: ...
    @property
    def probability(self) -> float: ...
    @property
    def frame_len(self) -> int: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def frame_ms(self) -> int: ...

class EchoStats(TypedDict):
    frames: int
    erle_db: float
    delay_ms: int
    delay_found: bool
    delay_changes: int
    double_talk_frames: int

@final
class EchoCanceller:
    """A streaming echo canceller: `far` (what the phone was sent, in the
    order it plays) and `near` (the caller's audio) in, `near` with the
    agent's echo taken out. The bulk delay is estimated (up to
    `max_delay_ms`, default 640); the filter spans `filter_ms` (default
    200) after it; the residual suppressor adds no comfort noise."""

    def __init__(
        self,
        sample_rate: Literal[8000, 16000] = 8000,
        frame_ms: Literal[10, 20] = 20,
        *,
        max_delay_ms: int | None = None,
        filter_ms: int | None = None,
        suppress: bool | None = None,
    ) -> None: ...
    def process(self, far: _Buffer, near: _Buffer) -> bytes: ...
    def set_delay_hint(self, ms: int) -> None: ...
    def forget_far(self, ms: int) -> None:
        """The far end's newest `ms` were never played (the phone dropped
        them at a clear): forgotten, so no echo of them is taken out."""
    def amend_far(self, far: _Buffer) -> None:
        """The far end's newest frame (the last `process`'s) was, after
        all, `far` (`frame_len` samples): audio sent within that frame.
        Raises InvalidLengthError for another length."""
    @property
    def stats(self) -> EchoStats: ...
    @property
    def converged(self) -> bool: ...
    @property
    def far_level_dbfs(self) -> float:
        """The loudest far-end frame the echo in the last caller frame can
        have come from (the filter's window by the delay in use), dBFS;
        -120 if silent: an echo guard's reference."""
    @property
    def frame_len(self) -> int: ...
    @property
    def frame_bytes(self) -> int: ...

@final
class TwilioBridge:
    def __init__(
        self,
        api: Literal["ga", "beta"] = "ga",
        audio: Literal["pcm24k", "audio/pcm", "pcm16", "pcmu", "audio/pcmu", "g711_ulaw"] = "pcm24k",
        quality: Quality = "telephony",
    ) -> None: ...
    def twilio_to_openai(self, message: str | _Buffer) -> str | None: ...
    def openai_to_twilio(self, message: str | _Buffer) -> list[str]: ...
    @property
    def stream_sid(self) -> str | None: ...
    @property
    def call_sid(self) -> str | None: ...
    @property
    def custom_parameters(self) -> dict[str, Any]: ...
    @property
    def last_mark(self) -> str | None: ...
    @property
    def marks_sent(self) -> int: ...
    @property
    def stopped(self) -> bool: ...

Target = Literal["media", "mark", "clear", "model", "event"]
Telephony = Literal["twilio", "telnyx", "plivo", "vonage", "exotel", "signalwire"]
ModelApi = Literal["openai", "azure", "gemini", "elevenlabs"]
ModelAudio = Literal[
    "pcm24k", "audio/pcm", "pcm16", "pcm16k", "pcm_16000",
    "pcmu", "audio/pcmu", "g711_ulaw", "ulaw_8000", "pcma", "audio/pcma", "g711_alaw",
]

@final
class Call:
    """One call's protocol state, sans I/O. Outputs are ``(target, payload)``:
    "media", "mark", "clear" (str, to the phone; "media" is bytes for a
    binary protocol, Vonage: send it as a binary message), "model" (str, to
    the model), "event" (dict, for the application: started, dtmf, stopped,
    tool_call, barge_in, model_error, and unknown: a message of a type the
    adapter does not know, with ``peer`` and ``kind``, to log). ``telephony`` and
    ``model`` pick the protocols; ``audio`` is the model side's format
    (Gemini's are fixed; ElevenLabs' must match the agent's)."""
    def __init__(
        self,
        *,
        telephony: Telephony = "twilio",
        model: ModelApi = "openai",
        api: Literal["ga", "beta"] = "ga",
        audio: ModelAudio = "pcm24k",
        quality: Quality = "telephony",
        model_id: str | None = None,
        instructions: str = ...,
        voice: str = "marin",
        tools: list[dict[str, Any]] | None = None,
        turn_detection: dict[str, Any] | None = {"type": "server_vad"},
        local_vad: bool = False,
        echo_loss_db: float = 6.0,
        echo_cancel: bool = False,
        echo_cancel_to_model: bool = False,
        hold_ms: int = 1000,
        resume_false_interruptions: bool = False,
        commit_after_ms: int = 700,
        resume_rewind_ms: int = 300,
    ) -> None:
        """``resume_false_interruptions`` (needs ``local_vad``; OpenAI or
        Azure): the caller's sound over the agent pauses it (a "paused"
        event, the phone cleared); speech lasting ``commit_after_ms``, a new
        turn or ``barge_in`` commits it (the "barge_in" event, with
        ``paused_ms``); a sound that ends first (a backchannel, a cough)
        resumes the agent from what was heard, rewound up to
        ``resume_rewind_ms`` to a quiet frame (a "resumed" event), and the
        model is told nothing.

        ``echo_cancel`` runs teledsp's echo canceller on the caller's audio
        (phone streams at 8 or 16 kHz): the local VAD hears the cancelled
        audio, and with ``echo_cancel_to_model`` the model does too (turn it on
        when the model API cancels no echo itself; OpenAI Realtime, Gemini
        Live and ElevenLabs do not on a telephony stream)."""
    def receive_phone(self, message: str | _Buffer, now_ms: int | None = None) -> list[tuple[Target, Any]]: ...
    def receive_phone_binary(self, data: bytes, now_ms: int | None = None) -> list[tuple[Target, Any]]:
        """A binary phone message (Vonage's audio); other protocols refuse it."""
    def receive_model(self, message: str | _Buffer, now_ms: int | None = None) -> list[tuple[Target, Any]]: ...
    def receive_model_binary(self, data: bytes, now_ms: int | None = None) -> list[tuple[Target, Any]]:
        """A binary frame from the model (Gemini Live sends its JSON so): as receive_model."""
    def open_model(self, now_ms: int | None = None) -> list[tuple[Target, Any]]: ...
    def barge_in(self, now_ms: int | None = None) -> list[tuple[Target, Any]]: ...
    def tool_result(self, call_id: str, output: str, now_ms: int | None = None) -> list[tuple[Target, Any]]: ...
    def heard_ms(self, item_id: str, now_ms: int | None = None) -> int | None: ...
    @property
    def stream_sid(self) -> str | None: ...
    @property
    def call_sid(self) -> str | None: ...
    @property
    def custom_parameters(self) -> dict[str, Any]: ...
    @property
    def stopped(self) -> bool: ...
    @property
    def model_open(self) -> bool: ...
    @property
    def model_ready(self) -> bool:
        """Whether the model confirmed the session settings (``session.updated``)."""
    @property
    def responding(self) -> bool: ...
    @property
    def paused(self) -> bool:
        """Whether the agent is paused on a caller's sound (resume_false_interruptions)."""
    @property
    def model_key_env(self) -> str:
        """The environment variable the model API's key is read from."""
    def model_headers(self, api_key: str) -> list[tuple[str, str]]:
        """The model socket's upgrade headers for ``api_key``: the API's key
        header, and OpenAI's beta header for api="beta"."""
    @property
    def counters(self) -> dict[str, int]:
        """With the echo canceller on, also echo_erle_db, echo_delay_ms and
        double_talk_frames (each absent while 0)."""

PipelineTarget = Literal["media", "mark", "clear", "caller_audio", "event"]

@final
class Pipeline:
    """A cascaded agent's call (STT -> LLM -> TTS), sans I/O. Outputs are
    ``(target, payload)``: "media", "mark", "clear" (str, to the phone),
    "caller_audio" (bytes, the phone's audio as it came: 8 kHz mu-law from Twilio), "event" (dict:
    started, dtmf, stopped, barge_in). A barge_in event's items are the
    utterances not wholly heard, each with heard_ms, sent_ms, generated_ms
    and action ("truncate" or "delete")."""
    def __init__(
        self,
        *,
        telephony: Telephony = "twilio",
        encoding: Literal["linear16", "mulaw"] = "linear16",
        sample_rate: Literal[8000, 16000, 24000, 48000] = 24000,
        quality: Quality = "telephony",
        local_vad: bool = True,
        echo_loss_db: float = 6.0,
        echo_cancel: bool = False,
        resume_false_interruptions: bool = False,
        commit_after_ms: int = 700,
        resume_rewind_ms: int = 300,
    ) -> None:
        """``echo_cancel`` runs teledsp's echo canceller on the caller's audio:
        the local VAD hears the cancelled audio, and "caller_audio" is the
        cancelled audio (so the recogniser stops transcribing the agent)."""
    def receive_phone(self, message: str | _Buffer, now_ms: int | None = None) -> list[tuple[PipelineTarget, Any]]: ...
    def receive_phone_binary(self, data: bytes, now_ms: int | None = None) -> list[tuple[PipelineTarget, Any]]:
        """A binary phone message (Vonage's audio); other protocols refuse it."""
    def begin_utterance(self, utterance_id: str, now_ms: int | None = None) -> None:
        """The application will speak this utterance: a barge-in before its audio comes deletes it."""
    def push_audio(self, utterance_id: str, audio: _Buffer, now_ms: int | None = None) -> list[tuple[PipelineTarget, Any]]:
        """TTS audio of an utterance, in the configured encoding and rate."""
    def end_utterance(self, utterance_id: str, now_ms: int | None = None) -> list[tuple[PipelineTarget, Any]]:
        """The utterance has no more audio: its last partial frame goes out, padded."""
    def barge_in(self, now_ms: int | None = None) -> list[tuple[PipelineTarget, Any]]: ...
    def speaking(self, now_ms: int | None = None) -> bool:
        """Whether something of the agent's is not wholly heard."""
    def heard_ms(self, utterance_id: str, now_ms: int | None = None) -> int | None: ...
    def caller_speech_ms(self, from_ms: int, to_ms: int) -> int:
        """Milliseconds of [from_ms, to_ms) of caller audio (from the stream's first
        sample, as a recogniser's timestamps count) in which the caller was heard:
        VAD speech louder than the echo guard allows the agent's own voice. A
        transcript of a span with none is the agent's echo."""
    @property
    def stream_sid(self) -> str | None: ...
    @property
    def call_sid(self) -> str | None: ...
    @property
    def custom_parameters(self) -> dict[str, Any]: ...
    @property
    def paused(self) -> bool:
        """Whether the agent is paused on a caller's sound (resume_false_interruptions)."""
    @property
    def stopped(self) -> bool: ...
    @property
    def counters(self) -> dict[str, int]:
        """With the echo canceller on, also echo_erle_db, echo_delay_ms and
        double_talk_frames (each absent while 0)."""

@final
class RequestValidator:
    """Twilio's X-Twilio-Signature check (twilio-python's algorithm)."""
    def __init__(self, auth_token: str) -> None: ...
    def sign(self, url: str, params: dict[str, str] | list[tuple[str, str]] | None = None) -> str: ...
    def validate(self, url: str, params: dict[str, str] | list[tuple[str, str]] | None, signature: str) -> bool: ...

_Headers = Mapping[str, str] | Iterable[tuple[str, str]] | None

@final
class Reply:
    """The answer to an answer webhook."""
    status: int
    """200; 400 (no CallSid to issue a call token for); 403 (bad signature); 404 (another provider's path)."""
    content_type: str
    body: str
    """The document, or a line that says what was wrong."""
    refused: str | None
    """Why a signature was refused (for the log), else None."""

@final
class Upgrade:
    """What a /media upgrade gets."""
    refused: str | None
    """Close the stream with 1008 and this reason; None: take it."""
    bearer: str | None
    """SignalWire's Authorization: Bearer token, for Gate.admit."""

@final
class Gate:
    """What a relay checks and answers before a call's media flows, for one
    telephony provider: the answer webhook (/twiml, /texml or /answer:
    signature, document, call token), the /media upgrade, and the stream's
    start (the call token). ``secret`` is the provider's variable's value
    (``Gate.secret_env(telephony)``); without one, ConfigError unless
    ``insecure_no_signature``."""
    def __init__(
        self,
        telephony: Literal["twilio", "telnyx", "plivo", "vonage", "exotel", "signalwire"],
        public_url: str,
        secret: str | None = None,
        call_tokens: bool = False,
        call_token_ttl: int = 60,
        insecure_no_signature: bool = False,
    ) -> None: ...
    @staticmethod
    def secret_env(telephony: str) -> str | None:
        """TWILIO_AUTH_TOKEN, SIGNALWIRE_SIGNING_KEY, TELNYX_PUBLIC_KEY, PLIVO_AUTH_TOKEN, VONAGE_SIGNATURE_SECRET; None for exotel."""
    @property
    def telephony(self) -> str: ...
    @property
    def answer_path(self) -> str | None: ...
    @property
    def call_tokens(self) -> bool: ...
    def answer(self, method: str, path: str, headers: _Headers, body: bytes, now: int | None = None) -> Reply:
        """The answer to a request on /twiml, /texml or /answer; ``path`` with its query; ``now`` in Unix seconds."""
    def upgrade(self, path: str, headers: _Headers) -> Upgrade:
        """Whether the /media upgrade of ``path`` (with its query) may open a stream."""
    def admit(self, call: Call | Pipeline, bearer: str | None = None, now: int | None = None) -> str | None:
        """None if the started call may run; else why not (close with 1008)."""
