"""Writes the pause / commit / resume conformance scenarios (tests/scenarios
34-41): Twilio and OpenAI with `local_vad` and `resume_false_interruptions`
(commit after 600 ms of speech, rewind up to 300 ms). The agent's answer
(item A, 2 s, in one delta at 100 ms) plays from 100 ms; the caller's line
is mu-law silence with bursts of the runners' `ulaw` generator (loud,
noise-like: the VAD takes it for speech) where each scenario puts them.

Only the inputs are written here; `TELEDSP_BLESS=1 cargo test -p teledsp
--test conformance` fills in `expect`, `counters` and `digest`, which are
then reviewed against each description.

    python tests/make_resume_scenarios.py
"""

import json
import pathlib

HERE = pathlib.Path(__file__).parent / "scenarios"
CONFIG = {"local_vad": True, "resume_false_interruptions": True, "commit_after_ms": 600, "resume_rewind_ms": 300}
START = {"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1", "callSid": "CA1"}}
ANSWER = [
    {"at": 0, "phone": START},
    {"at": 0, "open_model": True},
    {"at": 0, "model": {"type": "session.updated", "session": {}}},
    {"at": 100, "model": {"type": "response.created", "response": {"id": "R1"}}},
    {"at": 100, "model": {"type": "response.output_item.added", "response_id": "R1",
                          "item": {"id": "A", "type": "message", "role": "assistant"}}},
    {"at": 100, "model": {"type": "response.output_audio.delta", "item_id": "A", "response_id": "R1",
                          "delta": {"gen": "pcm24k", "ms": 2000, "seed": 3}}},
    {"at": 100, "model": {"type": "response.output_audio.done", "item_id": "A"}},
    {"at": 100, "model": {"type": "response.done", "response": {"id": "R1"}}},
]


def media(seed):
    return {"event": "media", "streamSid": "MZ1", "media": {"payload": {"gen": "ulaw", "ms": 20, "seed": seed}}}


def line(until_ms, bursts, extra=None):
    """Caller frames every 20 ms to `until_ms`: silence, or the generator
    inside the (start_ms, end_ms) `bursts`; `extra` maps an instant to steps
    inserted after that instant's frame."""
    steps = []
    for t in range(0, until_ms, 20):
        loud = any(a <= t < b for a, b in bursts)
        steps.append({"at": t, "phone": media(1 + t // 20 if loud else 0)})
        steps.extend((extra or {}).get(t, []))
    return steps


COMMITTED = lambda item: {"type": "input_audio_buffer.committed", "item_id": item, "previous_item_id": "A"}  # noqa: E731

SCENARIOS = {
    "34_resume_backchannel": dict(
        description="A backchannel (300 ms of sound at 600 ms) over the agent's 2 s answer: the VAD's onset pauses the "
                    "agent (clear, a paused event; the model is told nothing), the sound's end resumes it (a resumed "
                    "event with the pause's length and the rewind; A's audio sent again from what had been heard, "
                    "rewound to a quiet frame, then a mark). The server's committed turn (item U1) is the backchannel: "
                    "it is deleted, and no response.create is sent. Counters: one pause, one resume, no barge-in.",
        steps=ANSWER + line(2000, [(600, 900)], {1500: [{"at": 1500, "model": COMMITTED("U1")}]}),
    ),
    "35_resume_cough": dict(
        description="A cough (120 ms of loud sound at 1000 ms): paused and resumed as scenario 34, a shorter pause.",
        steps=ANSWER + line(2000, [(1000, 1120)]),
    ),
    "36_resume_real_interruption_committed": dict(
        description="A real interruption (1.5 s of speech from 600 ms): paused at the onset, committed 600 ms later: "
                    "the barge_in event (cause vad, paused_ms 600) with A truncated at what was heard at the pause "
                    "(no second clear). The server's committed turn (U1) is then answered: response.create.",
        steps=ANSWER + line(2400, [(600, 2100)], {2300: [{"at": 2300, "model": COMMITTED("U1")}]}),
    ),
    "37_resume_second_onset": dict(
        description="Two sounds: 200 ms at 600 ms (paused, then resumed when it ends), and from 1200 ms a long one: "
                    "within 1 s of the resume it continues the same exchange, so it is paused again and committed "
                    "600 ms after the first onset (paused_ms 40); A truncated at what was heard at the second pause "
                    "(the replay after the resume counted from where it restarted).",
        steps=ANSWER + line(2400, [(600, 800), (1200, 2300)]),
    ),
    "38_resume_new_model_turn": dict(
        description="Speech from 600 ms; 300 ms into the pause the model starts a new response (R2): the pause is "
                    "committed at once (cause model, paused_ms about 300), A truncated at what was heard at the pause.",
        steps=ANSWER + line(1400, [(600, 1400)], {1000: [{"at": 1000, "model": {"type": "response.created",
                                                                                "response": {"id": "R2"}}}]}),
    ),
    "39_resume_stop_during_pause": dict(
        description="The caller hangs up during a pause: the stopped event; nothing is resumed or sent after it.",
        steps=ANSWER + line(800, [(600, 800)]) + [{"at": 800, "phone": {"event": "stop", "streamSid": "MZ1"}}]
        + line(1200, [])[40:],
    ),
    "41_resume_then_own_turn": dict(
        description="A cough at 600 ms is paused and resumed, and the server commits no turn for it. The answer ends "
                    "(2.1 s); from 2.6 s the caller speaks with nothing playing (an onset that pauses nothing): their "
                    "own turn. The server's committed turn (U2) at 3.9 s is answered (response.create), not deleted "
                    "as a backchannel.",
        steps=ANSWER + line(4000, [(600, 720), (2600, 3400)], {3900: [{"at": 3900, "model": COMMITTED("U2")}]}),
    ),
    "40_pipeline_resume_backchannel": dict(
        kind="pipeline",
        config={"resume_false_interruptions": True, "commit_after_ms": 600, "resume_rewind_ms": 300},
        description="Pipeline (TTS linear16 at 24 kHz): utterance u1 (2 s) pushed at 100 ms; a 300 ms sound at 600 ms "
                    "pauses it (clear, paused), u2 pushed during the pause is held; the sound's end resumes u1 from "
                    "what was heard (rewound to a quiet frame) and sends u2 after it; then speech from 1400 ms, within "
                    "1 s of the resume, continues the exchange: paused again and committed at once, 800 ms after the "
                    "first onset (u1 truncated at what was heard, u2 never heard: deleted).",
        steps=[{"at": 0, "phone": START},
               {"at": 100, "push_audio": {"id": "u1", "audio": {"gen": "pcm24k", "ms": 2000, "seed": 3}}},
               {"at": 100, "end_utterance": "u1"}]
        + line(2800, [(600, 900), (1400, 2600)], {700: [{"at": 700, "push_audio": {"id": "u2", "audio": {
            "gen": "pcm24k", "ms": 500, "seed": 5}}}, {"at": 700, "end_utterance": "u2"}]}),
    ),
}

if __name__ == "__main__":
    for name, sc in SCENARIOS.items():
        doc = {"description": sc["description"], "kind": sc.get("kind", "call"), "config": sc.get("config", CONFIG),
               "steps": sc["steps"]}
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {name}.json")
