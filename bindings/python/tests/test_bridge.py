"""TwilioBridge round trips on realistic messages: start, media, mark, stop,
clear; GA and beta names; pcmu passthrough; errors."""

import base64
import json

import pytest

import teledsp
import twilio_openai as m

np = pytest.importorskip("numpy")


def speech_like(n, rate, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = 8000 * np.sin(2 * np.pi * 220 * t) + 3000 * np.sin(2 * np.pi * 1700 * t) + rng.standard_normal(n) * 300
    return x.astype(np.int16).tobytes()


def test_twilio_side_state_and_inbound_audio():
    b = teledsp.TwilioBridge()
    assert b.twilio_to_openai(m.connected()) is None
    assert b.twilio_to_openai(m.start({"caller": "+15550100", "lang": "en"})) is None
    assert (b.stream_sid, b.call_sid) == (m.SID, m.CALL)
    assert b.custom_parameters == {"caller": "+15550100", "lang": "en"}
    ulaw = teledsp.ulaw_encode(speech_like(8000, 8000))
    ref = teledsp.Resampler(8000, 24000)
    for i in range(50):
        frame = ulaw[160 * i : 160 * (i + 1)]
        out = b.twilio_to_openai(m.media(frame, i).encode())  # bytes are taken too
        msg = json.loads(out)
        assert msg["type"] == "input_audio_buffer.append" and set(msg) == {"type", "audio"}
        pcm24 = base64.b64decode(msg["audio"])
        assert len(pcm24) == 960  # 20 ms at 24 kHz, every frame
        assert pcm24 == ref.process_from_ulaw(frame)  # streaming state carried across messages
    assert b.twilio_to_openai(m.dtmf()) is None
    assert b.twilio_to_openai(m.mark("teledsp-1")) is None and b.last_mark == "teledsp-1"
    assert not b.stopped
    assert b.twilio_to_openai(m.stop()) is None and b.stopped


@pytest.mark.parametrize("ga", [True, False])
def test_openai_deltas_become_exact_20ms_frames_and_marks(ga):
    b = teledsp.TwilioBridge(api="ga" if ga else "beta")
    b.twilio_to_openai(m.start())
    pcm = speech_like(24000, 24000, seed=1)
    # Deltas of awkward sizes, as the model sends them.
    sizes = [2400 * 2, 1234 * 2, 7 * 2, 5000 * 2]
    down = teledsp.Resampler(24000, 8000)
    framer = teledsp.Framer(160)
    pos, marks = 0, 0
    for n, size in enumerate(sizes):
        delta = pcm[pos : pos + size]
        pos += size
        out = [json.loads(x) for x in b.openai_to_twilio(m.audio_delta(delta, ga=ga, n=n))]
        want = framer.push(down.process_to_ulaw(delta))
        media = [x for x in out if x["event"] == "media"]
        assert [base64.b64decode(x["media"]["payload"]) for x in media] == want
        assert all(x["streamSid"] == m.SID for x in out)
        if want:
            marks += 1
            assert out[-1] == {"event": "mark", "streamSid": m.SID, "mark": {"name": f"teledsp-{marks}"}}
            assert len(out) == len(want) + 1
        else:
            assert out == []  # 7 samples: nothing whole to send yet
    assert b.marks_sent == marks
    # A tolerant reader: the other flavour's event names are audio too
    # (100 ms: five frames, and a mark).
    other = [json.loads(x) for x in b.openai_to_twilio(m.audio_delta(pcm[:4800], ga=not ga))]
    assert [x["event"] for x in other] == ["media"] * 5 + ["mark"], other


def test_speech_started_clears_twilio_and_drops_the_partial_frame():
    b = teledsp.TwilioBridge()
    b.twilio_to_openai(m.start())
    out = b.openai_to_twilio(m.audio_delta(bytes(2 * 500)))  # 166 mu-law samples: 1 frame + 6 pending
    assert len(out) == 2
    assert [json.loads(x) for x in b.openai_to_twilio(m.speech_started())] == [{"event": "clear", "streamSid": m.SID}]
    out = b.openai_to_twilio(m.audio_delta(bytes(2 * 480)))  # exactly 160: the 6 dropped bytes do not come back
    assert len(out) == 2 and len(base64.b64decode(json.loads(out[0])["media"]["payload"])) == 160
    for other in (m.session_created(), m.response_done()):
        assert b.openai_to_twilio(other) == []


def test_pcmu_passthrough():
    b = teledsp.TwilioBridge(audio="audio/pcmu")
    b.twilio_to_openai(m.start())
    payload = teledsp.ulaw_encode(speech_like(160, 8000))
    msg = json.loads(b.twilio_to_openai(m.media(payload, 0)))
    assert base64.b64decode(msg["audio"]) == payload
    out = [json.loads(x) for x in b.openai_to_twilio(m.audio_delta(payload * 2 + payload[:50]))]
    assert [x["event"] for x in out] == ["media", "media", "mark"]
    assert base64.b64decode(out[1]["media"]["payload"]) == payload


def test_errors_say_what_was_wrong():
    b = teledsp.TwilioBridge()
    with pytest.raises(teledsp.MalformedMessageError, match="Twilio message is not the expected JSON: expected value at line 1 column 1"):
        b.twilio_to_openai("hello")
    with pytest.raises(teledsp.MalformedMessageError, match="missing field `event`"):
        b.twilio_to_openai('{"media": {"payload": ""}}')
    with pytest.raises(teledsp.MalformedMessageError, match="Twilio media.payload is not valid base64: invalid symbol 36 at offset 2"):
        b.twilio_to_openai('{"event":"media","media":{"payload":"AB$D"}}')
    with pytest.raises(teledsp.MalformedMessageError, match="Twilio media message without media.payload"):
        b.twilio_to_openai('{"event":"media"}')
    with pytest.raises(teledsp.MalformedMessageError, match="OpenAI PCM16 delta has an odd byte count"):
        b.openai_to_twilio(m.audio_delta(b"\x00\x01\x02"))
    with pytest.raises(teledsp.MalformedMessageError, match="OpenAI delta is not valid base64"):
        b.openai_to_twilio('{"type":"response.output_audio.delta","delta":"%%%"}')
    with pytest.raises(teledsp.MalformedMessageError, match="message is not UTF-8 text"):
        b.twilio_to_openai(b"\xff\xfe{}")
    with pytest.raises(TypeError):
        b.twilio_to_openai(42)
    with pytest.raises(teledsp.ConfigError, match='unknown OpenAI Realtime API "[^"]*"; expected one of: ga, beta'):
        teledsp.TwilioBridge(api="v2")
    with pytest.raises(teledsp.ConfigError, match="unknown model audio format"):
        teledsp.TwilioBridge(audio="opus")
    # A failed message leaves the bridge usable.
    assert b.twilio_to_openai(m.start()) is None and b.stream_sid == m.SID
