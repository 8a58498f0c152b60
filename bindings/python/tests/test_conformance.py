"""The cross-language conformance scenarios (tests/scenarios at the
repository root) against teledsp.Call, or teledsp.Pipeline where a
scenario's "kind" is "pipeline": the same outputs, step by step, and
the same digest as the Rust and Node suites. The format is in tests/README.md."""

import base64
import json
import pathlib
import zlib

import pytest

import teledsp

SCENARIOS = sorted((pathlib.Path(__file__).resolve().parents[3] / "tests" / "scenarios").glob("*.json"))


def generate(v):
    """The bytes a {"gen", "ms", "seed"} object describes."""
    ms, seed = v["ms"], v.get("seed", 0)
    if v["gen"] in ("pcm24k", "pcm16"):
        rate = 24000 if v["gen"] == "pcm24k" else v["rate"]
        shift = v.get("shift", 0)  # 6 dB quieter per step, for echoes
        samples = [0 if seed == 0 else ((seed * 7919 + i * 37) % 4001 - 2000) >> shift for i in range(ms * rate // 1000)]
        return b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
    if v["gen"] in ("ulaw", "alaw"):
        silence = 0xFF if v["gen"] == "ulaw" else 0xD5
        return bytes(silence if seed == 0 else (seed * 31 + i * 7) % 256 for i in range(ms * 8))
    raise ValueError(f"unknown gen {v['gen']}")


def expand(v):
    """Replaces gen objects with the base64 audio they describe."""
    if isinstance(v, dict) and "gen" in v:
        return base64.b64encode(generate(v)).decode()
    if isinstance(v, dict):
        return {k: expand(x) for k, x in v.items()}
    if isinstance(v, list):
        return [expand(x) for x in v]
    return v


def summarize(outputs, digest):
    """The compact form of tests/README.md; updates the running CRC-32."""
    got = []
    for target, payload in outputs:
        if target == "event":
            got.append({"event": payload})
            continue
        if target == "caller_audio":  # the recogniser's audio (Pipeline)
            digest[0] = zlib.crc32(payload + b"\n", digest[0])
            got.append({"caller_audio": len(payload)})
            continue
        if isinstance(payload, bytes):  # binary audio (Vonage)
            digest[0] = zlib.crc32(payload + b"\n", digest[0])
            msg, frame = None, payload
        else:
            digest[0] = zlib.crc32(payload.encode() + b"\n", digest[0])
            msg = json.loads(payload)
            frame = base64.b64decode(msg["media"]["payload"]) if target == "media" else b""
        if target == "media":
            # Silence in any phone codec: mu-law, A-law, PCM.
            silent = all(b in (0xFF, 0x7F) for b in frame) or all(b in (0xD5, 0x55) for b in frame) or not any(frame)
            last = got[-1] if got else None
            if last and last.get("phone") == "media" and last["silent"] == silent:
                last["frames"] += 1
            else:
                got.append({"phone": "media", "frames": 1, "silent": silent})
        elif target == "mark":
            name = (msg.get("mark") or {}).get("name") or msg.get("name") or (msg.get("payload") or {}).get("name")
            got.append({"phone": "mark", "name": name})
        elif target == "clear":
            got.append({"phone": "clear"})
        elif msg.get("type") == "input_audio_buffer.append":
            got.append({"model": "input_audio_buffer.append", "audio_bytes": len(base64.b64decode(msg["audio"]))})
        elif isinstance((msg.get("realtimeInput") or {}).get("audio"), dict):
            data = msg["realtimeInput"]["audio"]["data"]
            got.append({"model": "realtimeInput.audio", "audio_bytes": len(base64.b64decode(data))})
        elif isinstance(msg.get("user_audio_chunk"), str):
            got.append({"model": "user_audio_chunk", "audio_bytes": len(base64.b64decode(msg["user_audio_chunk"]))})
        else:
            got.append({"model": msg})
    return got


def run_step(call, step):
    at = step["at"]
    if "phone" in step:
        return call.receive_phone(json.dumps(expand(step["phone"])), at)
    if "model" in step:
        return call.receive_model(json.dumps(expand(step["model"])), at)
    if "phone_binary" in step:
        return call.receive_phone_binary(generate(step["phone_binary"]), at)
    if "phone_text" in step:
        return call.receive_phone(step["phone_text"], at)
    if "model_text" in step:
        return call.receive_model(step["model_text"], at)
    if "push_audio" in step:
        return call.push_audio(step["push_audio"]["id"], generate(step["push_audio"]["audio"]), at)
    if "begin_utterance" in step:
        call.begin_utterance(step["begin_utterance"], at)
        return []
    if "end_utterance" in step:
        return call.end_utterance(step["end_utterance"], at)
    if "open_model" in step:
        return call.open_model(at)
    if "barge_in" in step:
        return call.barge_in(at)
    if "tool_result" in step:
        return call.tool_result(step["tool_result"]["call_id"], step["tool_result"]["output"], at)
    raise ValueError(f"step without input: {step}")


def test_the_scenarios_are_there():
    assert len(SCENARIOS) >= 11


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario(path):
    sc = json.loads(path.read_text())
    engine = {"call": teledsp.Call, "pipeline": teledsp.Pipeline}[sc.get("kind", "call")]
    call = engine(**sc["config"])
    digest = [0]
    for i, step in enumerate(sc["steps"]):
        try:
            got = summarize(run_step(call, step), digest)
        except teledsp.TeledspError as e:
            got = [{"error": str(e)}]
        assert got == step["expect"], f"step {i} (at {step['at']})"
    assert call.counters == sc["counters"]
    assert f"{digest[0]:08x}" == sc["digest"]
