"""Writes the Pipeline conformance scenarios (tests/scenarios/28-31,
`"kind": "pipeline"`): the cascaded agent's engine on the same phone leg as
`Call`, so the same phone-side rules hold for it (reordering, refusals).

Only the inputs are written here; `TELEDSP_BLESS=1 cargo test -p teledsp
--test conformance` fills in `expect`, `counters` and `digest`, which are
then reviewed against each description.

    python tests/make_pipeline_scenarios.py
"""

import json
import pathlib

HERE = pathlib.Path(__file__).parent / "scenarios"

TWILIO_START = {"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
                "start": {"accountSid": "AC1", "callSid": "CA1", "streamSid": "MZ1", "tracks": ["inbound"],
                          "customParameters": {"tenant": "acme"},
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}


def twilio_media(ms, seed, n):
    return {"event": "media", "sequenceNumber": str(n), "streamSid": "MZ1",
            "media": {"track": "inbound", "chunk": str(n), "timestamp": str(n * 20), "payload": {"gen": "ulaw", "ms": ms, "seed": seed}}}


def twilio_mark(name):
    return {"event": "mark", "sequenceNumber": "9", "streamSid": "MZ1", "mark": {"name": name}}


def telnyx_media(chunk, ms):
    return {"event": "media", "sequence_number": str(chunk + 2), "stream_id": "S1",
            "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 20),
                      "payload": {"gen": "alaw", "ms": ms, "seed": chunk}}}


SCENARIOS = {
    "28_pipeline_utterance_interrupted": dict(
        description="Pipeline over Twilio (TTS linear16 at 24 kHz): caller audio comes out for the recogniser as it came "
                    "(160 bytes of mu-law). Utterance u1 (2 s in two 1 s pushes, ended) is sent at 0; Twilio echoes mark 1 "
                    "at 1000. The application barges in at 1500 (an interim transcript): clear, and u1 was heard for 1500 ms "
                    "(action truncate). Audio of u1 after that is dropped and counted; the cleared marks 2 and 3 are stale.",
        config={},
        steps=[
            {"at": 0, "phone": TWILIO_START},
            {"at": 0, "phone": twilio_media(20, 1, 2)},
            {"at": 0, "push_audio": {"id": "u1", "audio": {"gen": "pcm24k", "ms": 1000, "seed": 1}}},
            {"at": 0, "push_audio": {"id": "u1", "audio": {"gen": "pcm24k", "ms": 1000, "seed": 2}}},
            {"at": 0, "end_utterance": "u1"},
            {"at": 1000, "phone": twilio_mark("teledsp-1")},
            {"at": 1500, "barge_in": True},
            {"at": 1501, "push_audio": {"id": "u1", "audio": {"gen": "pcm24k", "ms": 100, "seed": 3}}},
            {"at": 1501, "phone": twilio_mark("teledsp-2")},
            {"at": 1501, "phone": twilio_mark("teledsp-3")},
        ],
    ),
    "29_pipeline_telnyx_reordered": dict(
        description="Pipeline over Telnyx (PCMA): caller chunks arrive 2, 1, 3 and reach the recogniser as 1, 2, 3 "
                    "(160, 320, 480 bytes: 20, 40 and 60 ms), as they reach a model in Call; a repeat of chunk 1 is "
                    "dropped and counted late.",
        config={"telephony": "telnyx"},
        steps=[
            {"at": 0, "phone": {"event": "start", "sequence_number": "1", "stream_id": "S1",
                                "start": {"user_id": "u1", "call_control_id": "v3:C1", "client_state": "YWNtZQ==",
                                          "media_format": {"encoding": "PCMA", "sample_rate": 8000, "channels": 1}}}},
            {"at": 0, "phone": telnyx_media(2, 40)},
            {"at": 20, "phone": telnyx_media(1, 20)},
            {"at": 40, "phone": telnyx_media(3, 60)},
            {"at": 60, "phone": telnyx_media(1, 20)},
        ],
    ),
    "30_pipeline_refusals": dict(
        description="Pipeline refusals, the same as Call's (one phone leg): media before start; bad base64; an odd byte "
                    "count on SignalWire's L16 at 16 kHz; a second start. Each is an error, counted in malformed_phone, "
                    "and changes nothing: the 20 ms of L16 after them comes out whole (640 bytes).",
        config={"telephony": "signalwire"},
        steps=[
            {"at": 0, "phone": {"event": "media", "streamSid": "MZ1", "media": {"payload": {"gen": "pcm16", "rate": 16000, "ms": 20, "seed": 1}}}},
            {"at": 0, "phone": {"event": "start", "streamSid": "MZ1",
                                "start": {"streamSid": "MZ1", "callSid": "CA1", "mediaFormat": {"encoding": "audio/x-L16", "sampleRate": 16000, "channels": 1}}}},
            {"at": 10, "phone_text": '{"event":"media","streamSid":"MZ1","media":{"payload":"AA=!"}}'},
            {"at": 20, "phone_text": '{"event":"media","streamSid":"MZ1","media":{"payload":"AAAA"}}'},
            {"at": 30, "phone": {"event": "start", "streamSid": "MZ2", "start": {"streamSid": "MZ2", "callSid": "CA2"}}},
            {"at": 40, "phone": {"event": "media", "streamSid": "MZ1", "media": {"payload": {"gen": "pcm16", "rate": 16000, "ms": 20, "seed": 2}}}},
        ],
    ),
    "31_pipeline_cancelled_before_audio_and_stop": dict(
        description="Pipeline: utterance u1 begun (its text went to the TTS) but no audio yet; the application barges in "
                    "at 100: no clear was needed for audio, but the phone gets clear and u1 is deleted (heard 0). Its audio "
                    "arriving later is dropped. Utterance u2 plays 100 ms; the stream stops; u2's later audio and tail "
                    "are dropped (nothing goes to a stopped phone).",
        config={},
        steps=[
            {"at": 0, "phone": TWILIO_START},
            {"at": 50, "begin_utterance": "u1"},
            {"at": 100, "barge_in": True},
            {"at": 120, "push_audio": {"id": "u1", "audio": {"gen": "pcm24k", "ms": 200, "seed": 1}}},
            {"at": 200, "push_audio": {"id": "u2", "audio": {"gen": "pcm24k", "ms": 110, "seed": 2}}},
            {"at": 300, "phone": {"event": "stop", "sequenceNumber": "5", "streamSid": "MZ1", "stop": {"accountSid": "AC1", "callSid": "CA1"}}},
            {"at": 310, "push_audio": {"id": "u2", "audio": {"gen": "pcm24k", "ms": 100, "seed": 3}}},
            {"at": 320, "end_utterance": "u2"},
        ],
    ),
}

if __name__ == "__main__":
    for name, sc in SCENARIOS.items():
        doc = {"description": sc["description"], "kind": "pipeline", "config": sc["config"], "steps": sc["steps"]}
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {name}.json")
