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

        gate = kw.pop("gate", None) or teledsp.Gate("twilio", "https://relay.example.com", insecure_no_signature=True)
        s = pipeline_relay.Settings("https://relay.example.com", fake.url, fake.key, gate,
                                    llm=kw.pop("llm", llm), on_call_end=self.calls.append, **kw)
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
    # One media message with an empty payload, which must not reach
    # Deepgram as an empty frame (the fake closes the stream on one, as
    # Deepgram does).
    rep = run_call(relay, caller, 5.0, empty_media_at=10)
    relay.stop()
    assert fake.log.errors == [], fake.log.errors
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
    relay = Relay(fake, gate=teledsp.Gate("twilio", "https://relay.example.com", "tok"))
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


def trimmed(voice):
    """A voice whose audio ends with its last word (recorded prompts end in
    silence, which keeps the agent "speaking" past its words)."""
    import array

    def say(text: str) -> bytes:
        pcm = array.array("h", voice(text))
        n = len(pcm)
        while n and abs(pcm[n - 1]) < 300:
            n -= 1
        return pcm[:n].tobytes()

    return say


@needs_speech
def test_the_agents_own_echo_is_not_answered():
    """The phone returns the agent's recorded voice at -20 dB and the caller
    says nothing. The fake recogniser transcribes the audible echo, as a
    real one does, its final coming ~300 ms after the agent's last word,
    when nothing of the agent's plays any more; the relay must not take it
    for the caller's turn."""
    fake = fake_deepgram.FakeDeepgram([], voice=trimmed(fake_deepgram.recorded_voice()),
                                      default_transcript="hello there").start_in_thread()
    relay = Relay(fake, greeting="Thank you for calling. How can I help you today?")
    try:
        run_call(relay, b"", 6.0, echo_db=-20.0)
        finals = [m for _, m in fake.log.stt_sent if m.get("type") == "Results" and m.get("is_final")
                  and m["channel"]["alternatives"][0]["transcript"]]
        assert finals, "the fake recogniser transcribed no echo: the test could not fail"
        assert relay.histories == [], f"the relay answered its own echo: {relay.histories}"
        assert relay.calls[0]["barge_ins"] == [], "the echo barged in"
    finally:
        relay.stop()


def test_heard_text_keeps_a_word_heard_to_its_end():
    text = "We are open from nine to five."
    # 6 characters heard: "We are" in full, the cut lands at its end.
    assert pipeline_relay.heard_text(text, 600, 3000, False, 10.0) == "We are"
    assert pipeline_relay.heard_text(text, 500, 3000, False, 10.0) == "We"
    assert pipeline_relay.heard_text(text, 3000, 3000, True, 10.0) == text


def test_the_speaking_rate_is_learned_from_finished_answers():
    conv = pipeline_relay.Conversation("sys", 14.0)
    assert conv.speaking_rate() == 14.0
    uid = conv.begin()
    conv.add_text(uid, "x" * 40)
    conv.answers[uid].audio_ms = 2000.0
    conv.finished(uid)
    assert conv.speaking_rate() == 20.0


def test_startup_checks_the_deepgram_key_and_the_environment(tmp_path, monkeypatch, capsys):
    fake = fake_deepgram.FakeDeepgram().start_in_thread()
    assert pipeline_relay.check_deepgram_key(fake.url, fake.key) is None
    assert "401" in pipeline_relay.check_deepgram_key(fake.url, "wrong-key")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("DEEPGRAM_API_KEY", "wrong-key")
    monkeypatch.setenv("RELAY_INSECURE_NO_SIGNATURE", "1")
    assert pipeline_relay.main(["serve", "--deepgram-url", fake.url]) == 2
    err = capsys.readouterr().err
    assert "refused DEEPGRAM_API_KEY" in err and "TWILIO_AUTH_TOKEN" not in err, err
    # --llm names a module in the current directory.
    (tmp_path / "my_llm_mod.py").write_text("def answer(history):\n    return 'hi'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert pipeline_relay.load_llm("my_llm_mod:answer")([]) == "hi"


def test_help_names_the_environment_and_the_history():
    import subprocess

    out = subprocess.run([sys.executable, str(EXAMPLES / "pipeline_relay.py"), "serve", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for word in ("DEEPGRAM_API_KEY", "TWILIO_AUTH_TOKEN", "DEEPGRAM_URL", "PUBLIC_URL", "RELAY_INSECURE_NO_SIGNATURE",
                 '"role": "system"', "requirements.txt", "--llm-timeout"):
        assert word in out, f"--help does not say {word}"


def test_the_examples_declare_their_dependencies():
    """Every third-party module an example imports is in examples/requirements.txt."""
    import ast

    declared = {line.split(">")[0].split("=")[0].strip().lower().replace("-", "_")
                for line in (EXAMPLES / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}
    provided_by = {"werkzeug": "flask"}  # installed with what is declared
    local = {p.stem for p in EXAMPLES.glob("*.py")} | {"teledsp"}
    # audioop_relay.py is the stdlib-audioop baseline (CPython <= 3.12, where
    # audioop is in the standard library).
    stdlib = sys.stdlib_module_names | {"audioop"}
    for path in EXAMPLES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top in local:
                    continue
                assert provided_by.get(top, top).lower() in declared, f"{path.name} imports {top}, not in requirements.txt"
