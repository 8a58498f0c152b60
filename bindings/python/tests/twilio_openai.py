"""Realistic Twilio Media Streams and OpenAI Realtime messages (shapes from
the public docs and the seeds), shared by the bridge and relay tests."""

import base64
import json

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA4a1f3c1c7a8b9d0e1f2a3b4c5d6e7f80"


def connected():
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start(params=None):
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "accountSid": "AC0123456789abcdef0123456789abcdef",
                "streamSid": SID,
                "callSid": CALL,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": params or {},
            },
            "streamSid": SID,
        }
    )


def media(payload: bytes, seq: int):
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq + 2),
            "media": {
                "track": "inbound",
                "chunk": str(seq + 1),
                "timestamp": str(20 * seq),
                "payload": base64.b64encode(payload).decode(),
            },
            "streamSid": SID,
        }
    )


def mark(name, seq=99):
    return json.dumps({"event": "mark", "sequenceNumber": str(seq), "streamSid": SID, "mark": {"name": name}})


def dtmf(digit="1"):
    return json.dumps(
        {"event": "dtmf", "streamSid": SID, "sequenceNumber": "7", "dtmf": {"track": "inbound_track", "digit": digit}}
    )


def stop():
    return json.dumps(
        {
            "event": "stop",
            "sequenceNumber": "100",
            "stop": {"accountSid": "AC0123456789abcdef0123456789abcdef", "callSid": CALL},
            "streamSid": SID,
        }
    )


def audio_delta(pcm_or_ulaw: bytes, ga=True, n=0):
    return json.dumps(
        {
            "type": "response.output_audio.delta" if ga else "response.audio.delta",
            "event_id": f"event_{n}",
            "response_id": "resp_001",
            "item_id": "item_001",
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(pcm_or_ulaw).decode(),
        }
    )


def speech_started(ms=1200):
    return json.dumps(
        {"type": "input_audio_buffer.speech_started", "event_id": "event_9", "audio_start_ms": ms, "item_id": "item_002"}
    )


def session_created():
    return json.dumps({"type": "session.created", "event_id": "event_0", "session": {"type": "realtime", "id": "sess_1"}})


def response_done():
    return json.dumps({"type": "response.done", "event_id": "event_8", "response": {"id": "resp_001", "status": "completed"}})
