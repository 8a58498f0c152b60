"""Writes the echo-canceller conformance scenarios (tests/scenarios/32-33):
the engine with `echo_cancel` on, so every language runs the canceller's
arithmetic and must agree on its output to the byte (the canceller is
deterministic across CPUs: rustfft's scalar plan, per-bin kernels
bit-identical to the scalar path).

The echo is built from the runners' own generators, so no audio is stored.
The line is SignalWire's L16 at 16 kHz and the agent's audio PCM16 at
16 kHz, so it reaches the phone unchanged: `{"gen": "pcm16", "rate": 16000,
"seed": 1}`, whose sample `i` is `((7919 + 37 i) % 4001) - 2000`. The
phone's 20 ms frame `k` of it (samples `320 k ..`) is then exactly the
generator with seed `1 + 11840 k / 7919 (mod 4001)`, and `"shift": 2` makes
it 12 dB quieter: a media message with that seed, `DELAY` frames later, is
the agent's frame coming back, an echo at 12 dB of loss, 160 ms after the
engine played it into its far-end queue. The caller speaks at full level
with seeds that follow another sequence.

Only the inputs are written here; `TELEDSP_BLESS=1 cargo test -p teledsp
--test conformance` fills in `expect`, `counters` and `digest`, which are
then reviewed against each description.

    python tests/make_echo_scenarios.py
"""

import json
import pathlib

HERE = pathlib.Path(__file__).parent / "scenarios"
DELAY = 8  # frames: 160 ms
STEP = 11840 * pow(7919, -1, 4001) % 4001  # seed step per 20 ms frame at 16 kHz

START = {"event": "start", "streamSid": "MZ1",
         "start": {"streamSid": "MZ1", "callSid": "CA1",
                   "mediaFormat": {"encoding": "audio/x-L16", "sampleRate": 16000, "channels": 1}}}


def media(n, seed, shift=0):
    payload = {"gen": "pcm16", "rate": 16000, "ms": 20, "seed": seed}
    if shift:
        payload["shift"] = shift
    return {"event": "media", "streamSid": "MZ1", "media": {"payload": payload}}


def echo_seed(k):
    """The seed of the agent's frame `k - DELAY` (0: silence before it)."""
    j = k - DELAY
    if j < 0:
        return 0
    seed = (1 + STEP * j) % 4001
    return seed or 4001  # 4001 is 0 to the formula, but not the generator's silence


def line(frames, caller_from=None):
    """`frames` media messages, 20 ms apart: the echo, or from frame
    `caller_from` the caller instead."""
    steps = []
    for k in range(frames):
        if caller_from is not None and k >= caller_from:
            steps.append({"at": 20 * k, "phone": media(k, 2 + 1013 * k % 3989)})
        else:
            steps.append({"at": 20 * k, "phone": media(k, echo_seed(k), shift=2)})
    return steps


SCENARIOS = {
    "32_pipeline_echo_cancelled": dict(
        kind="pipeline",
        description="Pipeline with echo_cancel over SignalWire (L16 16 kHz, TTS linear16 at 16 kHz passed to the phone as "
                    "it is): the agent says 3 s (u1); the phone's audio is that speech coming back 160 ms after the far-end "
                    "queue played it, 12 dB down. caller_audio is the cancelled audio (its bytes are in the digest). The "
                    "echo never barges in. The counters have the canceller's ERLE, the delay it found (160 ms, or a frame "
                    "before) and its double-talk frames.",
        config={"telephony": "signalwire", "encoding": "linear16", "sample_rate": 16000, "echo_cancel": True},
        steps=[{"at": 0, "phone": START},
               {"at": 0, "push_audio": {"id": "u1", "audio": {"gen": "pcm16", "rate": 16000, "ms": 3000, "seed": 1}}},
               {"at": 0, "end_utterance": "u1"}] + line(150),
    ),
    "33_call_echo_cancel_to_model": dict(
        kind="call",
        description="Call with local_vad, echo_cancel and echo_cancel_to_model, SignalWire (L16 16 kHz) and ElevenLabs "
                    "(pcm_16000 both ways): the agent's answer (3 s) comes back on the line as in scenario 32, so the "
                    "model's user_audio_chunk messages carry the cancelled audio, not the phone's payloads. The echo alone "
                    "does not barge in; from 2 s the caller talks over the agent instead: the local VAD barges in, the "
                    "phone is cleared and the model told what was heard.",
        config={"telephony": "signalwire", "model": "elevenlabs", "audio": "pcm16k", "local_vad": True,
                "echo_cancel": True, "echo_cancel_to_model": True},
        steps=[{"at": 0, "phone": START},
               {"at": 0, "open_model": True},
               {"at": 0, "model": {"type": "conversation_initiation_metadata",
                                   "conversation_initiation_metadata_event": {"conversation_id": "conv1",
                                                                              "agent_output_audio_format": "pcm_16000",
                                                                              "user_input_audio_format": "pcm_16000"}}},
               {"at": 0, "model": {"type": "audio", "audio_event": {"event_id": 2, "audio_base_64":
                                                                   {"gen": "pcm16", "rate": 16000, "ms": 3000, "seed": 1}}}}]
        + line(125, caller_from=100),
    ),
}

if __name__ == "__main__":
    for name, sc in SCENARIOS.items():
        doc = {"description": sc["description"], "kind": sc["kind"], "config": sc["config"], "steps": sc["steps"]}
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {name}.json")
