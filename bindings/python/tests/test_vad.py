"""The VAD through the binding: probabilities, events on real speech, errors."""

import os
import pathlib
import wave

import pytest

import teledsp

np = pytest.importorskip("numpy")


def prompts():
    d = os.environ.get("TELEDSP_SPEECH_DIR")
    if not d:
        pytest.skip("LOUD SKIP: TELEDSP_SPEECH_DIR unset (scripts/test.sh sets it from Debian's recorded prompts)")
    files = sorted(pathlib.Path(d).rglob("*.wav"))[:40]
    assert files, f"no .wav under {d}"
    return files


def read_wav(path):
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1), path
        return w.readframes(w.getnframes())


def test_silence_is_not_speech():
    vad = teledsp.Vad()
    for _ in range(50):
        p = vad.process(bytes(320))
        assert 0.0 <= p < 0.5
        assert vad.event is None
    assert not vad.is_speaking and vad.probability == p


def test_real_speech_gives_start_then_end_events():
    vad = teledsp.Vad(8000, 20)
    gap = bytes(320 * 40)  # 800 ms of silence between prompts
    events = []
    t = 0
    for path in prompts():
        audio = gap + read_wav(path) + gap
        for i in range(0, len(audio) - 319, 320):
            vad.process(audio[i : i + 320])
            if vad.event is not None:
                events.append(vad.event)
            t += 20
    kinds = [e.kind for e in events]
    assert kinds.count("speech_start") >= len(prompts()) * 0.8
    # Alternating, starting with a start; times increase.
    assert all(k == ("speech_start" if i % 2 == 0 else "speech_end") for i, k in enumerate(kinds))
    assert all(a.at_ms <= b.at_ms for a, b in zip(events, events[1:]))
    assert events[0] == events[0] and "speech_start" in repr(events[0])


def test_ulaw_frames_equal_decoded_frames_and_rates_agree():
    rng = np.random.default_rng(3)
    pcm = (rng.standard_normal(160 * 30) * 3000).astype(np.int16).tobytes()
    codes = teledsp.ulaw_encode(pcm)
    a, b = teledsp.Vad(), teledsp.Vad()
    for i in range(30):
        f = codes[160 * i : 160 * (i + 1)]
        assert a.process_ulaw(f) == b.process(teledsp.ulaw_decode(f))
    # numpy int16 frames are taken as they are.
    c = teledsp.Vad()
    assert c.process(np.zeros(160, dtype=np.int16)) == teledsp.Vad().process(bytes(320))
    wide = teledsp.Vad(16000, 10)
    assert (wide.frame_len, wide.frame_bytes, wide.sample_rate, wide.frame_ms) == (160, 320, 16000, 10)
    assert 0.0 <= wide.process(bytes(320)) <= 1.0


def test_reset_restarts_the_stream():
    rng = np.random.default_rng(4)
    frames = [(rng.standard_normal(160) * 5000).astype(np.int16).tobytes() for _ in range(20)]
    v = teledsp.Vad()
    first = [v.process(f) for f in frames]
    v.reset()
    assert [v.process(f) for f in frames] == first


def test_settings_and_errors():
    v = teledsp.Vad(8000, 20, threshold_on=0.9, min_silence_ms=200)
    assert repr(v) == "Vad(8000, 20)"
    with pytest.raises(teledsp.InvalidLengthError, match="frame has 159 samples, 160 expected"):
        v.process(bytes(318))
    with pytest.raises(teledsp.InvalidLengthError, match="frame has 3 bytes"):
        v.process(bytes(3))
    with pytest.raises(teledsp.UnsupportedRateError, match=r"unsupported sample rate 44100 Hz; supported: \[8000, 16000, 24000\]"):
        teledsp.Vad(44100)
    with pytest.raises(teledsp.ConfigError, match=r"unsupported frame duration 25 ms; supported: \[10, 20, 30\] ms"):
        teledsp.Vad(8000, 25)
    with pytest.raises(teledsp.UnsupportedRateError, match="supported: \\[8000\\]"):
        teledsp.Vad(16000).process_ulaw(bytes(320))
