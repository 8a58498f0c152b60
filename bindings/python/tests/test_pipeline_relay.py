"""examples/pipeline_relay.py end to end, on loopback: a phone that plays in
real time (phone_sim.py), the relay under uvicorn, the fake Deepgram STT and
TTS servers (examples/fake_deepgram.py), and the LLM as a local function."""

import asyncio
import os
import pathlib
import sys
import threading
import time
import wave

import pytest

import teledsp

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
pytest.importorskip("fastapi")
import uvicorn  # noqa: E402

import fake_deepgram  # noqa: E402
import phone_sim  # noqa: E402
import pipeline_relay  # noqa: E402

SPEECH = os.environ.get("TELEDSP_SPEECH_DIR")
needs_speech = pytest.mark.skipif(not SPEECH, reason="needs recorded prompts: set TELEDSP_SPEECH_DIR (scripts/test.sh does)")
QUESTION = "What are your opening hours?"
REPLY = "We are open from nine to five, Monday to Friday."


def prompt(name: str) -> bytes:
    with wave.open(str(pathlib.Path(SPEECH) / f"{name}.wav")) as w:
        return teledsp.ulaw_encode(w.readframes(w.getnframes()))


def onset_ms(ulaw: bytes) -> int:
    """Where speech starts in a clean prompt: the first 20 ms over -40 dBFS."""
    for k in range(len(ulaw) // 160):
        if fake_deepgram.dbfs(ulaw[k * 160:(k + 1) * 160]) > -40:
            return 20 * k
    raise AssertionError("no speech in the prompt")


class Relay:
    """The pipeline relay in this process (so the LLM can be a local function)."""

    def __init__(self, fake, **kw):
        self.calls, self.histories = [], []
        self.port = phone_sim_free_port()

        async def llm(history):
            self.histories.append(history)
            await asyncio.sleep(0.05)
            yield REPLY[:20]
            yield REPLY[20:]

        s = pipeline_relay.Settings("https://relay.example.com", fake.url, fake.key, kw.pop("validator", None),
                                    llm=kw.pop("llm", llm), insecure=True, on_call_end=self.calls.append, **kw)
        self.server = uvicorn.Server(uvicorn.Config(pipeline_relay.create_app(s), "127.0.0.1", self.port, log_level="warning"))
        threading.Thread(target=self.server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the relay did not start"
            time.sleep(0.02)

    @property
    def media(self):
        return f"ws://127.0.0.1:{self.port}/media"

    def stop(self):
        self.server.should_exit = True


def phone_sim_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_call(relay, caller: bytes, seconds: float, **kw) -> phone_sim.Report:
    rep = asyncio.run(phone_sim.call(relay.media, caller, seconds, **kw))
    deadline = time.monotonic() + 5
    while not relay.calls:
        assert time.monotonic() < deadline, "the relay did not end the call"
        time.sleep(0.02)
    return rep


def tts_types(fake) -> list[str]:
    return [m["type"] for _, m in fake.log.tts_received]


@needs_speech
@pytest.mark.parametrize("mode", ["vad", "transcript"])
def test_barge_in_cuts_the_greeting_at_what_was_heard_and_the_answer_follows(mode):
    fake = fake_deepgram.FakeDeepgram([QUESTION]).start_in_thread()
    relay = Relay(fake, barge_in=mode)
    said = prompt("tt-weasels")
    caller = b"\xff" * 8 * 1200 + said
    speech_at = 1200 + onset_ms(said)
    rep = run_call(relay, caller, 9.0)
    relay.stop()
    assert fake.log.errors == [] and rep.bad_frames == 0 and rep.close_code == 1000
    (rec,) = relay.calls
    # The caller talked over the greeting: one barge-in, cleared on the phone.
    assert len(rec["barge_ins"]) == 1 and len(rep.clears) >= 1, (rec["barge_ins"], rep.clears)
    latency = rep.clears[0] - speech_at
    print(f"{mode}: clear {latency:.0f} ms after the speech onset")
    if mode == "vad":
        assert rec["barge_ins"][0]["cause"] == "vad" and 0 <= latency < 500, latency
    else:
        assert rec["barge_ins"][0]["cause"] == "application" and 0 <= latency < 1600, latency
    # What the engine says was heard of the greeting is what the phone played.
    (item,) = rec["barge_ins"][0]["items"]
    played = rep.played_between(0, rep.clears[0])
    assert item["item_id"] == "u1" and abs(item["heard_ms"] - played) <= 40, (item, played)
    # The TTS was told to stop; the answer to the caller's question followed.
    types = tts_types(fake)
    assert types[:2] == ["Speak", "Flush"] and "Clear" in types, types
    assert types[types.index("Clear") + 1:] == ["Speak", "Speak", "Flush", "Close"], types
    # The LLM saw the greeting cut to what was heard (or nothing), then the question.
    (history,) = relay.histories
    assert history[0]["role"] == "system" and history[-1] == {"role": "user", "content": QUESTION}, history
    greeting = pipeline_relay.Settings.greeting
    heard = [e["content"] for e in history if e["role"] == "assistant"]
    assert all(len(h) < len(greeting) and greeting.startswith(h) for h in heard), heard
    assert rec["history"][-1] == {"role": "assistant", "content": REPLY}
    # The answer reached the phone after the clear.
    assert rep.played_between(rep.clears[-1], 9000) > 500
    # Deepgram got the caller's audio as mu-law 8 kHz with interim results.
    (q,) = fake.log.stt_queries
    assert (q["encoding"], q["sample_rate"], q["interim_results"]) == ("mulaw", "8000", "true")
    assert fake.log.stt_audio_bytes >= 160 * 400


def test_llm_failure_is_spoken_not_silent_and_bad_phone_input_is_skipped():
    fake = fake_deepgram.FakeDeepgram([QUESTION], voice=fake_deepgram.buzz_voice).start_in_thread()

    def broken(history):
        raise RuntimeError("model down")

    relay = Relay(fake, llm=broken, greeting=None)
    caller = b"\xff" * 800 + phone_sim_voice(1500)
    rep = run_call(relay, caller, 5.0)
    relay.stop()
    spoken = [m["text"] for _, m in fake.log.tts_received if m["type"] == "Speak"]
    assert spoken == [pipeline_relay.SORRY], spoken
    assert rep.played_between(0, 5000) > 0 and rep.close_code == 1000



def phone_sim_voice(ms: int) -> bytes:
    """A loud voiced buzz as mu-law 8 kHz (the fake STT hears energy)."""
    r = teledsp.Resampler(24000, 8000)
    return teledsp.ulaw_encode(r.process(fake_deepgram.buzz_voice("x" * (ms // 60))) + r.flush())


def test_signatures_and_twiml():
    fake = fake_deepgram.FakeDeepgram().start_in_thread()
    v = teledsp.RequestValidator("tok")
    relay = Relay(fake, validator=v)
    import urllib.request

    body = b"CallSid=CA9&From=%2B15550001"

    def post(sig):
        req = urllib.request.Request(f"http://127.0.0.1:{relay.port}/twiml", body, {"x-twilio-signature": sig,
                                     "content-type": "application/x-www-form-urlencoded"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""

    assert post("bad")[0] == 403
    status, xml = post(v.sign("https://relay.example.com/twiml", {"CallSid": "CA9", "From": "+15550001"}))
    assert status == 200 and '<Stream url="wss://relay.example.com/media">' in xml and 'value="CA9"' in xml
    rep = asyncio.run(phone_sim.call(relay.media, b"", 0.5, headers={"x-twilio-signature": "AAAA"}))
    assert rep.close_code == 1008
    relay.stop()
