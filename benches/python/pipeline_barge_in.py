"""Barge-in on a cascaded agent (seed 002): how soon the caller's speech
stops the agent, local VAD against waiting for an interim transcript, and
how often the agent's own voice, fed back as line echo, stops it.

Everything runs on loopback in real time: the pipeline relay
(bindings/python/examples/pipeline_relay.py) under uvicorn, the fake
Deepgram STT/TTS, and phones that play 20 ms per 20 ms (phone_sim.py). The
agent speaks recorded prompts (TELEDSP_SPEECH_DIR) as its greeting.

- Latency: the caller says each prompt while the greeting plays; from the
  prompt's speech onset (first 20 ms over -40 dBFS) to the phone receiving
  `clear`. The transcript rule's figure follows the fake STT's interim
  cadence (every 1 s of stream, as in Deepgram's interim-results example),
  a model of Deepgram, not a measurement of it; the VAD's is teledsp's.
- Echo: the caller is silent; the phone feeds what it plays back at
  --echo-db (default -20 dB); a barge-in is a false trigger.

    TELEDSP_SPEECH_DIR=/usr/share/asterisk/sounds/en_US_f_Allison \\
        python benches/python/pipeline_barge_in.py [--prompts 20] [--quick]
"""

import argparse
import asyncio
import logging
import os
import pathlib
import random
import statistics
import sys
import wave

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "bindings/python/examples"), str(ROOT / "bindings/python/tests")]

import teledsp  # noqa: E402
import fake_deepgram  # noqa: E402
import phone_sim  # noqa: E402
from test_pipeline_relay import Relay, onset_ms  # noqa: E402


def prompts(d: str, n: int) -> list[tuple[str, bytes]]:
    out = []
    for p in sorted(pathlib.Path(d).glob("*.wav")):
        with wave.open(str(p)) as w:
            if w.getframerate() == 8000 and 1.0 <= w.getnframes() / 8000 <= 3.0:
                out.append((p.stem, teledsp.ulaw_encode(w.readframes(w.getnframes()))))
    random.Random(7).shuffle(out)
    return out[:n]


def long_voice(d: str):
    """The greeting: 8 s of recorded speech at 24 kHz, whatever the text."""
    pcm = b""
    for p in sorted(pathlib.Path(d).glob("*.wav")):
        with wave.open(str(p)) as w:
            if w.getframerate() == 8000 and w.getnframes() > 16000:
                pcm += w.readframes(w.getnframes())
        if len(pcm) >= 2 * 8000 * 8:
            break
    r = teledsp.Resampler(8000, 24000)
    audio = r.process(pcm) + r.flush()
    return lambda text: audio


def scaled(ulaw: bytes, db: float) -> bytes:
    if db == 0:
        return ulaw
    return teledsp.ulaw_encode(teledsp.audioop.mul(teledsp.ulaw_decode(ulaw), 2, 10 ** (db / 20)))


async def batch(relay, jobs, concurrency):
    sem = asyncio.Semaphore(concurrency)

    async def one(i, caller, seconds, echo_db):
        async with sem:
            return await phone_sim.call(relay.media, caller, seconds, echo_db=echo_db, sid=f"MZ{i}", call_sid=f"CA{i}")

    return await asyncio.gather(*(one(i, *j) for i, j in enumerate(jobs)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--echo-calls", type=int, default=20)
    ap.add_argument("--echo-db", type=float, default=-20.0)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--caller-db", type=float, default=0.0, help="the caller's level against the agent's, dB")
    ap.add_argument("--quick", action="store_true", help="3 prompts, 3 echo calls (a smoke run)")
    a = ap.parse_args()
    logging.getLogger("pipeline_relay").setLevel(logging.ERROR)  # echo drops are expected here
    d = os.environ.get("TELEDSP_SPEECH_DIR")
    if not d:
        sys.exit("set TELEDSP_SPEECH_DIR to the recorded prompts (asterisk-core-sounds-en-wav)")
    if a.quick:
        a.prompts, a.echo_calls = 3, 3
    ps = prompts(d, a.prompts)
    rng = random.Random(11)
    print(f"{len(ps)} prompts; greeting: 8 s of recorded speech; teledsp {teledsp.__version__} ({teledsp.ISA})")
    print(f"caller at {a.caller_db:+.0f} dB against the agent; echo at {a.echo_db:+.0f} dB")
    print(f"{'rule':<26} {'median ms':>9} {'p90 ms':>7} {'max ms':>7} {'missed':>7} {'echo false triggers':>20}")
    for label, mode, guard in (("vad (echo guard 6 dB)", "vad", 6.0), ("vad (no echo guard)", "vad", 0.0),
                               ("interim transcript", "transcript", 6.0)):
        fake = fake_deepgram.FakeDeepgram([], voice=long_voice(d), default_transcript="hello there").start_in_thread()
        relay = Relay(fake, barge_in=mode, echo_loss_db=guard)
        jobs, onsets = [], []
        for _, said in ps:
            said = scaled(said, a.caller_db)
            lead = rng.randrange(1000, 2500, 20)
            jobs.append((b"\xff" * 8 * lead + said, (lead + len(said) // 8 + 600) / 1000, None))
            onsets.append(lead + onset_ms(said))
        reports = asyncio.run(batch(relay, jobs, a.concurrency))
        lat = [r.clears[0] - t for r, t in zip(reports, onsets) if r.clears and r.clears[0] >= t - 40]
        missed = len(reports) - len(lat)
        echo = asyncio.run(batch(relay, [(b"", 7.0, a.echo_db)] * a.echo_calls, a.concurrency))
        false = sum(1 for r in echo if r.clears)
        agent_s = sum(r.played_between(0, 7000) for r in echo) / 1000
        relay.stop()
        q = statistics.quantiles(lat, n=10) if len(lat) >= 2 else [float("nan")] * 9
        med = statistics.median(lat) if lat else float("nan")
        print(f"{label:<26} {med:>9.0f} {q[8]:>7.0f} {max(lat, default=float('nan')):>7.0f} {missed:>4}/{len(reports):<2} "
              f"{false:>6}/{len(echo)} calls ({agent_s:.0f} s of agent speech)")


if __name__ == "__main__":
    main()
