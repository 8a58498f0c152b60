"""teledsp: the audio core of phone-call voice agents.

ITU-exact G.711 (mu-law, A-law), a streaming polyphase resampler between
8, 16, 24 and 48 kHz, exact 20 ms framing, a VAD with barge-in events, and a
Twilio Media Streams <-> OpenAI Realtime bridge that handles one message per
native call. PCM is 16-bit little-endian; inputs take any buffer (bytes,
bytearray, memoryview, array.array, numpy arrays).

``teledsp.audioop`` is CPython's ``audioop`` module (removed in Python
3.13), exactly: all 26 functions, widths 1 to 4. ``teledsp.ratecv`` has
``audioop.ratecv``'s calling convention over teledsp's anti-aliased
resampler.

``Call`` is the call engine: one call's protocol state (barge-in over every
unheard item, exact playout from Twilio's marks, tools) as a sans-I/O object,
the same in Rust, Python and Node. ``Pipeline`` is the same for a cascaded
agent (speech-to-text -> LLM -> TTS): TTS audio in per utterance, exact
frames and marks out, barge-ins that say what was heard of each utterance.
``RequestValidator`` checks Twilio's request signatures; ``Gate`` is all a
relay checks and answers before a call's media flows, for every telephony
provider (answer webhooks, the ``/media`` upgrade, call tokens).
"""

from teledsp._native import (
    ISA,
    ConfigError,
    EchoCanceller,
    Framer,
    InvalidLengthError,
    MalformedMessageError,
    Resampler,
    TeledspError,
    TwilioBridge,
    UnsupportedRateError,
    UnknownToolCallError,
    Call,
    Gate,
    Pipeline,
    Reply,
    RequestValidator,
    Upgrade,
    RatecvState,
    Vad,
    VadEvent,
    __version__,
    alaw_decode,
    alaw_encode,
    alaw_to_ulaw,
    ulaw_decode,
    ulaw_encode,
    ulaw_to_alaw,
    ratecv,
)
from teledsp import audioop

__all__ = [
    "ISA",
    "ConfigError",
    "EchoCanceller",
    "Framer",
    "InvalidLengthError",
    "MalformedMessageError",
    "Resampler",
    "TeledspError",
    "TwilioBridge",
    "Call",
    "Gate",
    "Pipeline",
    "Reply",
    "RequestValidator",
    "Upgrade",
    "RatecvState",
    "UnsupportedRateError",
    "UnknownToolCallError",
    "Vad",
    "VadEvent",
    "__version__",
    "alaw_decode",
    "alaw_encode",
    "alaw_to_ulaw",
    "audioop",
    "ratecv",
    "ulaw_decode",
    "ulaw_encode",
    "ulaw_to_alaw",
]
