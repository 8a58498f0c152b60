"""Writes the adapter conformance scenarios (tests/scenarios/2*.json): the
barge-in of scenario 01 (item A, 2 s in two 1 s deltas, a mark echoed at
1000, the caller at 1500) for every telephony protocol against OpenAI and
for Twilio against every model API, each in its own messages (shapes from
the providers' docs, cited in the adapters' modules).

Only the inputs are written here; `TELEDSP_BLESS=1 cargo test -p teledsp
--test conformance` fills in `expect`, `counters` and `digest`, which are
then reviewed: in every file A must be cut at 1500 ms heard.

    python tests/make_adapter_scenarios.py
"""

import json
import pathlib

HERE = pathlib.Path(__file__).parent / "scenarios"

OPENAI = [
    {"type": "session.updated", "event_id": "event_0", "session": {}},
    {"type": "response.created", "event_id": "event_1", "response": {"id": "R1", "object": "realtime.response", "output": [], "status": "in_progress"}},
    {"type": "response.output_item.added", "event_id": "event_2", "response_id": "R1", "output_index": 0,
     "item": {"id": "A", "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress", "content": []}},
]


def openai_answer(gen):
    d = lambda n: {"type": "response.output_audio.delta", "event_id": f"event_{n}", "response_id": "R1", "item_id": "A",
                   "output_index": 0, "content_index": 0, "delta": gen}
    return [d(3), d(4),
            {"type": "response.output_audio.done", "event_id": "event_5", "response_id": "R1", "item_id": "A", "output_index": 0, "content_index": 0},
            {"type": "response.done", "event_id": "event_6", "response": {"id": "R1", "object": "realtime.response", "output": [], "status": "completed"}}]


SPEECH_STARTED = {"type": "input_audio_buffer.speech_started", "event_id": "event_7", "audio_start_ms": 1500, "item_id": "user_1"}

# Per telephony protocol: its start, its caller audio (as steps), its
# playback confirmation, and what the description says of it.
PHONES = {
    "telnyx": dict(
        start={"event": "start", "sequence_number": "1", "stream_id": "S1",
               "start": {"user_id": "u1", "call_control_id": "v3:C1", "client_state": "YWNtZQ==",
                         "media_format": {"encoding": "PCMA", "sample_rate": 8000, "channels": 1}}},
        # Chunks 2, 1, 3: Telnyx does not promise order; the engine reorders.
        media=[{"phone": {"event": "media", "sequence_number": str(n + 2), "stream_id": "S1",
                          "media": {"track": "inbound", "chunk": str(n), "timestamp": str(n * 20), "payload": {"gen": "alaw", "ms": 20, "seed": n}}}}
               for n in (2, 1, 3)],
        echo=lambda name: {"phone": {"event": "mark", "sequence_number": "9", "stream_id": "S1", "mark": {"name": name}}},
        what="Telnyx, bidirectional RTP with PCMA: caller chunks 2, 1, 3 arrive out of order and reach OpenAI as 1, 2, 3 (24 kHz PCM); "
             "the answer goes back as A-law in 20 ms media messages with marks.",
    ),
    "plivo": dict(
        start={"event": "start", "sequenceNumber": 1, "extra_headers": "tenant=acme",
               "start": {"callId": "C1", "streamId": "S1", "accountId": "MA1", "tracks": ["inbound"],
                         "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000}}},
        media=[{"phone": {"event": "media", "sequenceNumber": n + 1, "streamId": "S1",
                          "media": {"track": "inbound", "timestamp": str(n * 20), "chunk": n, "payload": {"gen": "pcm16", "rate": 16000, "ms": 20, "seed": n}}}}
               for n in (1, 2)],
        echo=lambda name: {"phone": {"event": "playedStream", "sequenceNumber": 9, "streamId": "S1", "name": name}},
        what="Plivo with audio/x-l16 at 16 kHz: playAudio with contentType and sampleRate, checkpoint confirmed by playedStream, clearAudio.",
    ),
    "vonage": dict(
        start={"event": "websocket:connected", "content-type": "audio/l16;rate=16000", "uuid": "C1", "tenant": "acme"},
        media=[{"phone_binary": {"gen": "pcm16", "rate": 16000, "ms": 20, "seed": n}} for n in (1, 2)],
        echo=lambda name: {"phone": {"event": "websocket:notify", "payload": {"name": name}}},
        what="Vonage, L16 at 16 kHz: binary 20 ms messages both ways, notify confirmed by websocket:notify, the clear action.",
    ),
    "exotel": dict(
        start={"event": "start", "sequence_number": "1", "stream_sid": "S1",
               "start": {"stream_sid": "S1", "call_sid": "C1", "account_sid": "A1", "from": "+1", "to": "+2", "custom_parameters": {"tenant": "acme"},
                         "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"}}},
        media=[{"phone": {"event": "media", "sequence_number": "2", "stream_sid": "S1",
                          "media": {"chunk": "1", "timestamp": "100", "payload": {"gen": "pcm16", "rate": 8000, "ms": 100, "seed": 1}}}}],
        echo=lambda name: {"phone": {"event": "mark", "sequence_number": "9", "stream_sid": "S1", "mark": {"name": name}}},
        what="Exotel, 16-bit PCM at 8 kHz: caller audio in 100 ms messages; the answer goes back in 200 ms (3,200-byte: Exotel's minimum) media messages, the tail padded.",
    ),
    "signalwire": dict(
        start={"event": "start", "sequenceNumber": "1", "streamSid": "S1",
               "start": {"streamSid": "S1", "callSid": "C1", "accountSid": "AC1", "tracks": ["inbound"], "customParameters": {"tenant": "acme"},
                         "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 24000, "channels": 1}}},
        media=[{"phone": {"event": "media", "sequenceNumber": str(n + 1), "streamSid": "S1",
                          "media": {"track": "inbound", "chunk": str(n), "timestamp": str(n * 20), "payload": {"gen": "pcm16", "rate": 24000, "ms": 20, "seed": n}}}}
               for n in (1, 2)],
        echo=lambda name: {"phone": {"event": "mark", "sequenceNumber": "9", "streamSid": "S1", "mark": {"name": name}}},
        what="SignalWire with codec L16@24000h: Twilio's messages, PCM at OpenAI's own rate both ways (passed through).",
    ),
}

TWILIO_START = {"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
                "start": {"streamSid": "MZ1", "callSid": "CA1", "accountSid": "AC1", "tracks": ["inbound"], "customParameters": {"tenant": "acme"},
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}
TWILIO_MEDIA = [{"phone": {"event": "media", "sequenceNumber": str(n + 1), "streamSid": "MZ1",
                           "media": {"track": "inbound", "chunk": str(n), "timestamp": str(n * 20), "payload": {"gen": "ulaw", "ms": 20, "seed": n}}}}
                for n in (1, 2)]


def twilio_echo(name):
    return {"phone": {"event": "mark", "sequenceNumber": "9", "streamSid": "MZ1", "mark": {"name": name}}}


def write(n, name, description, config, steps):
    path = HERE / f"{n}_{name}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    # Keep blessed expectations where the inputs did not change.
    if old.get("steps") and len(old["steps"]) == len(steps):
        for s, o in zip(steps, old["steps"]):
            if all(s.get(k) == o.get(k) for k in s):
                s["expect"] = o.get("expect", [])
    sc = {"name": f"{n}_{name}", "description": description, "config": config,
          "steps": [dict(s, expect=s.get("expect", [])) for s in steps],
          "counters": old.get("counters", {}), "digest": old.get("digest", "")}
    path.write_text(json.dumps(sc, indent=2, sort_keys=True) + "\n")


def main():
    n = 19
    cut = "The caller talks at 1600 (OpenAI speech_started): clear, and A is truncated at 1500 ms heard (1000 confirmed + 500 since)."
    for tel, p in PHONES.items():
        steps = [dict(at=0, phone=p["start"]), dict(at=0, open_model=True)]
        steps += [dict(at=0, model=OPENAI[0])]
        steps += [dict(s, at=20 * i) for i, s in enumerate(p["media"])]
        steps += [dict(at=100, model=m) for m in OPENAI[1:] + openai_answer({"gen": "pcm24k", "ms": 1000, "seed": 1})]
        steps += [dict(p["echo"]("teledsp-1"), at=1100), dict(at=1600, model=SPEECH_STARTED)]
        write(n, f"{tel}_openai_barge_in", f"{p['what']} Item A (2 s) sent at 100, mark 1 confirmed at 1100. {cut}",
              {"telephony": tel}, steps)
        n += 1
    models = {
        "azure": dict(
            config={"model": "azure"},
            msgs=OPENAI + openai_answer({"gen": "pcm24k", "ms": 1000, "seed": 1}),
            cut=SPEECH_STARTED,
            what="Azure OpenAI: OpenAI's events; truncate at 1500 ms.",
        ),
        "openai_pcma": dict(
            config={"audio": "pcma"},
            msgs=OPENAI + openai_answer({"gen": "alaw", "ms": 1000, "seed": 1}),
            cut=SPEECH_STARTED,
            what="OpenAI with audio/pcma: Twilio's mu-law transcoded to A-law and back (no resampling); truncate at 1500 ms.",
        ),
        "gemini": dict(
            config={"model": "gemini"},
            msgs=[{"setupComplete": {}}]
            + [{"serverContent": {"modelTurn": {"role": "model", "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000",
                                                                                          "data": {"gen": "pcm24k", "ms": 1000, "seed": 1}}}]}}}] * 2
            + [{"serverContent": {"generationComplete": True}}],
            cut={"serverContent": {"interrupted": True}},
            what="Gemini Live: 16 kHz PCM in, 24 kHz out; its turn numbered gemini-turn-1; serverContent.interrupted barges in. "
                 "Gemini has no truncate: the event says 1500 ms heard of 2000 generated, and nothing is sent (see the adapter's docs).",
        ),
        "elevenlabs": dict(
            config={"model": "elevenlabs", "audio": "pcm16k"},
            msgs=[{"type": "conversation_initiation_metadata", "conversation_initiation_metadata_event":
                   {"conversation_id": "conv1", "agent_output_audio_format": "pcm_16000", "user_input_audio_format": "pcm_16000"}},
                  {"type": "ping", "ping_event": {"event_id": 1, "ping_ms": 30}},
                  {"type": "agent_response", "agent_response_event": {"agent_response": "Hello there."}}]
            + [{"type": "audio", "audio_event": {"audio_base_64": {"gen": "pcm16", "rate": 16000, "ms": 1000, "seed": 1}, "event_id": 2}}] * 2,
            cut={"type": "interruption", "interruption_event": {"event_id": 2}},
            what="ElevenLabs Agents, pcm_16000: ping answered with pong; response event 2 is item elevenlabs-2; the interruption event barges in "
                 "and the agent gets a contextual_update saying 1.50 s was heard.",
        ),
    }
    for name, m in models.items():
        steps = [dict(at=0, phone=TWILIO_START), dict(at=0, open_model=True), dict(at=0, model=m["msgs"][0])]
        steps += [dict(s, at=20 * i) for i, s in enumerate(TWILIO_MEDIA)]
        steps += [dict(at=100, model=x) for x in m["msgs"][1:]]
        steps += [dict(twilio_echo("teledsp-1"), at=1100), dict(at=1600, model=m["cut"])]
        write(n, f"twilio_{name}_barge_in", f"{m['what']} Item A (2 s) sent at 100, mark 1 confirmed at 1100; the caller at 1600.",
              m["config"], steps)
        n += 1


if __name__ == "__main__":
    main()
