"""The cross-language conformance scenarios (tests/scenarios at the
repository root) against teledsp.Call: the same outputs, step by step, and
the same digest as the Rust and Node suites. The format is in tests/README.md."""

import base64
import json
import pathlib
import zlib

import pytest

import teledsp

SCENARIOS = sorted((pathlib.Path(__file__).resolve().parents[3] / "tests" / "scenarios").glob("*.json"))


def expand(v):
    """Replaces {"gen", "ms", "seed"} objects with the base64 audio they describe."""
    if isinstance(v, dict) and "gen" in v:
        ms, seed = v["ms"], v.get("seed", 0)
        if v["gen"] == "pcm24k":
            samples = [0 if seed == 0 else (seed * 7919 + i * 37) % 4001 - 2000 for i in range(ms * 24)]
            raw = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
        elif v["gen"] == "ulaw":
            raw = bytes(0xFF if seed == 0 else (seed * 31 + i * 7) % 256 for i in range(ms * 8))
        else:
            raise ValueError(f"unknown gen {v['gen']}")
        return base64.b64encode(raw).decode()
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
        digest[0] = zlib.crc32(payload.encode() + b"\n", digest[0])
        msg = json.loads(payload)
        if target == "media":
            frame = base64.b64decode(msg["media"]["payload"])
            silent = all(b in (0xFF, 0x7F) for b in frame)
            last = got[-1] if got else None
            if last and last.get("phone") == "media" and last["silent"] == silent:
                last["frames"] += 1
            else:
                got.append({"phone": "media", "frames": 1, "silent": silent})
        elif target == "mark":
            got.append({"phone": "mark", "name": msg["mark"]["name"]})
        elif target == "clear":
            got.append({"phone": "clear"})
        elif msg["type"] == "input_audio_buffer.append":
            got.append({"model": "input_audio_buffer.append", "audio_bytes": len(base64.b64decode(msg["audio"]))})
        else:
            got.append({"model": msg})
    return got


def run_step(call, step):
    at = step["at"]
    if "phone" in step:
        return call.receive_phone(json.dumps(expand(step["phone"])), at)
    if "model" in step:
        return call.receive_model(json.dumps(expand(step["model"])), at)
    if "phone_text" in step:
        return call.receive_phone(step["phone_text"], at)
    if "model_text" in step:
        return call.receive_model(step["model_text"], at)
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
    call = teledsp.Call(**sc["config"])
    digest = [0]
    for i, step in enumerate(sc["steps"]):
        try:
            got = summarize(run_step(call, step), digest)
        except teledsp.TeledspError as e:
            got = [{"error": str(e)}]
        assert got == step["expect"], f"step {i} (at {step['at']})"
    assert call.counters == sc["counters"]
    assert f"{digest[0]:08x}" == sc["digest"]
