"""False interruptions: does the agent resume after "mm-hm", a cough or a
door slam, and does it still yield to a real interruption? teledsp's pause
mode (`resume_false_interruptions`) on recorded speech, in a closed loop
with a simulated phone, echo on the line.

The loop, 20 ms per step:

- the agent (`teledsp.Pipeline`, TTS mu-law at 8 kHz) says 12 s of
  recorded prompts (TELEDSP_SPEECH_DIR, Debian's English Allison), pushed
  at once, as a TTS faster than real time would;
- the phone plays what it got 120 ms after it was sent (network plus
  jitter buffer), 20 ms per 20 ms; it drops its queue on `clear` and
  echoes each mark when the audio before it has played, as Twilio does;
- the line returns what the phone played as echo (a hybrid's 8 ms
  impulse response, 60 ms bulk delay, ERL 10 dB), adds the caller and
  noise at -60 dBFS, through mu-law, into the engine as media.

The caller, 4 s into the agent's speech, makes one of:

- a backchannel: a single word (TELEDSP_CALLER_SPEECH_DIR's digits, the
  French June voice, trimmed to its speech: 200-600 ms);
- a cough: two bursts of low-passed noise with a fast attack and a 60 ms
  decay, 250-400 ms in all;
- a noise burst (a door, a bump): 80-200 ms of broadband noise;
- a real interruption: a whole prompt of the same voice (1.5-4 s).

Plus echo-only lines (no caller at all): any pause there is caused by echo.

Measured per trial (at the phone, not the engine's word for it): paused,
resumed or committed, and any later pause (the caller made one sound: a
second pause is the echo's); for the first resume, the gap (from the end of the caller's
sound to the agent's audio playing again at the phone), and the audio lost
(the agent's audio the phone had not played at the clear and never plays
after the resume: 0 with the rewind) or replayed (played twice); for a
commit, its latency from the caller's first sample.

    TELEDSP_SPEECH_DIR=/usr/share/asterisk/sounds/en_US_f_Allison \\
    TELEDSP_CALLER_SPEECH_DIR=/usr/share/asterisk/sounds/fr_CA_f_June \\
        python benches/python/false_interruptions.py [--commit-after-ms 700] [--canceller] [--json out.json]
"""

import argparse
import base64
import json
import os
import pathlib
import statistics
import sys
import wave

import numpy as np

import teledsp

RATE = 8000
N = 160  # 20 ms
LATENCY_MS = 120
EVENT_AT_S = 4.0
AGENT_S = 12.0
ECHO_DELAY_MS = 60
ERL_DB = 10.0


def read(p: pathlib.Path) -> np.ndarray | None:
    with wave.open(str(p)) as w:
        if w.getframerate() != RATE or w.getnchannels() != 1:
            return None
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(float)


def trim(x: np.ndarray) -> np.ndarray:
    """The speech: from the first to the last 10 ms window above -40 dBFS."""
    win = 80
    e = np.array([np.mean(x[i : i + win] ** 2) for i in range(0, len(x) - win, win)])
    loud = np.nonzero(10 * np.log10(e / 32768**2 + 1e-12) > -40)[0]
    if len(loud) == 0:
        return x[:0]
    return x[loud[0] * win : (loud[-1] + 1) * win]


def agent_speech(d: str) -> np.ndarray:
    out, total = [], 0
    for p in sorted(pathlib.Path(d).glob("*.wav"))[::3]:
        x = read(p)
        if x is None:
            continue
        out += [x, np.zeros(RATE // 5)]
        total += len(x) + RATE // 5
        if total > AGENT_S * RATE:
            break
    return np.concatenate(out)[: int(AGENT_S * RATE)]


def caller_events(d: str, rng) -> list[tuple[str, np.ndarray]]:
    events = []
    for p in sorted((pathlib.Path(d) / "digits").glob("*.wav")):
        x = read(p)
        if x is not None:
            x = trim(x)
            if 0.2 * RATE <= len(x) <= 0.6 * RATE:
                events.append(("backchannel", x))
    for i in range(24):
        n1, n2 = rng.integers(int(0.1 * RATE), int(0.16 * RATE), 2)
        gap = rng.integers(int(0.04 * RATE), int(0.08 * RATE))
        def burst(n):
            noise = rng.standard_normal(n)
            noise = np.convolve(noise, np.ones(4) / 4, mode="same")  # low-passed: a cough's body
            env = np.minimum(1, np.arange(n) / (0.01 * RATE)) * np.exp(-np.arange(n) / (0.06 * RATE))
            return noise * env
        x = np.concatenate([burst(n1), np.zeros(gap), 0.6 * burst(n2)])
        events.append(("cough", x / np.max(np.abs(x)) * 12000 * 10 ** (rng.uniform(-6, 0) / 20)))
    for i in range(24):
        n = rng.integers(int(0.08 * RATE), int(0.2 * RATE))
        env = np.exp(-np.arange(n) / (0.05 * RATE))
        x = rng.standard_normal(n) * env
        events.append(("noise burst", x / np.max(np.abs(x)) * 16000 * 10 ** (rng.uniform(-6, 0) / 20)))
    for p in sorted(pathlib.Path(d).glob("*.wav")):
        x = read(p)
        if x is not None:
            x = trim(x)
            if 1.5 * RATE <= len(x) <= 4 * RATE:
                events.append(("real interruption", x))
    return events


def hybrid() -> np.ndarray:
    rng = np.random.default_rng(42)
    t = np.arange(8 * RATE // 1000) / RATE
    h = np.exp(-t / 0.002) * np.cos(2 * np.pi * 1000 * t) + 0.3 * rng.standard_normal(len(t)) * np.exp(-t / 0.0027)
    return h / np.sqrt(np.sum(h**2))


def ulaw_bytes(x: np.ndarray) -> bytes:
    return teledsp.ulaw_encode(np.clip(np.round(x), -32768, 32767).astype(np.int16).tobytes())


class Phone:
    """Twilio's side of the stream: a queue played 20 ms per 20 ms after
    LATENCY_MS, `clear` empties it (and its marks are echoed at once), a
    mark is echoed when the audio before it has played."""

    def __init__(self):
        self.queue = []  # (arrival_ms, kind, payload)
        self.played = []  # per 20 ms step: the frame played (or None)
        self.playing_resumed_at = None

    def send(self, now_ms: int, target: str, payload: str) -> list[str]:
        msg = json.loads(payload)
        if target == "clear":
            echoes = [m for _, k, m in self.queue if k == "mark"]
            self.queue.clear()
            return [json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": n}}) for n in echoes]
        if target == "media":
            self.queue.append((now_ms + LATENCY_MS, "media", base64.b64decode(msg["media"]["payload"])))
        elif target == "mark":
            self.queue.append((now_ms + LATENCY_MS, "mark", msg["mark"]["name"]))
        return []

    def tick(self, now_ms: int) -> tuple[bytes | None, list[str]]:
        """The frame played in [now, now + 20) and the marks echoed after it."""
        echoes, frame = [], None
        while self.queue and self.queue[0][1] == "mark" and self.queue[0][0] <= now_ms:
            echoes.append(self.queue.pop(0)[2])
        if self.queue and self.queue[0][1] == "media" and self.queue[0][0] <= now_ms:
            frame = self.queue.pop(0)[2]
        while self.queue and self.queue[0][1] == "mark" and self.queue[0][0] <= now_ms + 20:
            echoes.append(self.queue.pop(0)[2])
        self.played.append(frame)
        return frame, [json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": n}}) for n in echoes]


def trial(agent: np.ndarray, event: np.ndarray | None, commit_after_ms: int, canceller: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    p = teledsp.Pipeline(encoding="mulaw", sample_rate=8000, echo_cancel=canceller, resume_false_interruptions=True,
                         commit_after_ms=commit_after_ms)
    phone = Phone()
    p.receive_phone(json.dumps({"event": "start", "streamSid": "MZ", "start": {"streamSid": "MZ", "callSid": "CA"}}), 0)
    outcome = {"paused_at": None, "resumed_at": None, "committed_at": None, "pauses": 0}

    def route(outs, now):
        back = []
        for target, payload in outs:
            if target == "event":
                if payload["type"] == "paused":
                    outcome["pauses"] += 1
                    outcome["paused_at"] = outcome["paused_at"] or now
                elif payload["type"] == "resumed":
                    outcome["resumed_at"] = outcome["resumed_at"] or now
                elif payload["type"] == "barge_in":
                    outcome["committed_at"] = outcome["committed_at"] or now
            elif target in ("media", "mark", "clear"):
                back += phone.send(now, target, payload)
        return back

    # The TTS streams faster than real time: 200 ms chunks, all at once, a
    # mark after each (the phone's latency is learned from the first).
    codes = ulaw_bytes(agent)
    back = []
    for i in range(0, len(codes), 1600):
        back += route(p.push_audio("u", codes[i : i + 1600], 0), 0)
    p.end_utterance("u", 0)
    h = hybrid()
    echo_line = np.zeros(int((AGENT_S + 6) * RATE) + len(h))
    total = int((AGENT_S + 5) * RATE) // N
    ev_at = int(EVENT_AT_S * RATE)
    noise = rng.standard_normal(total * N) * 32768 * 10 ** (-60 / 20)
    for k in range(total):
        now = 20 * k
        for m in back:
            p.receive_phone(m, now)
        frame, echoes = phone.tick(now)
        for m in echoes:
            p.receive_phone(m, now)
        if frame is not None:
            pcm = np.frombuffer(teledsp.ulaw_decode(frame), np.int16).astype(float)
            start = k * N + ECHO_DELAY_MS * RATE // 1000
            echo_line[start : start + N + len(h) - 1] += np.convolve(pcm, h) * 10 ** (-ERL_DB / 20)
        near = echo_line[k * N : (k + 1) * N] + noise[k * N : (k + 1) * N]
        if event is not None:
            a, b = max(k * N, ev_at), min((k + 1) * N, ev_at + len(event))
            if a < b:
                near[a - k * N : b - k * N] += event[a - ev_at : b - ev_at]
        msg = json.dumps({"event": "media", "streamSid": "MZ", "media": {"payload": base64.b64encode(ulaw_bytes(near)).decode()}})
        back = route(p.receive_phone(msg, now), now)
    out = dict(outcome)
    # Pauses after the first: the caller made one sound, so these are the
    # echo's (or, on an echo-only line, every pause is).
    out["event_ms"] = None if event is None else 1000 * len(event) / RATE
    if outcome["resumed_at"] is not None and not outcome["committed_at"]:
        # The gap: from the end of the caller's sound to the first frame played after the resume.
        end_ms = 1000 * (ev_at + len(event)) / RATE if event is not None else outcome["paused_at"]
        first = next(k for k in range(outcome["resumed_at"] // 20, len(phone.played)) if phone.played[k] is not None)
        out["gap_ms"] = 20 * first - end_ms
        # Where playback restarted in the agent's speech: the first frame
        # played after the resume, found among the agent's frames (nearest
        # the last one played before the clear; silence repeats).
        last_heard = sum(f is not None for f in phone.played[: outcome["paused_at"] // 20 + 1]) - 1
        first_after = phone.played[first]
        candidates = [i for i in range(len(codes) // N) if codes[i * N : (i + 1) * N] == first_after]
        resumed_from = min(candidates, key=lambda i: abs(i - last_heard)) if candidates else last_heard + 1
        out["lost_ms"] = 20 * max(0, resumed_from - last_heard - 1)
        out["replayed_ms"] = 20 * max(0, last_heard + 1 - resumed_from)
    if outcome["committed_at"] is not None and event is not None:
        out["commit_latency_ms"] = outcome["committed_at"] - 1000 * ev_at / RATE
        out["commit_after_onset_ms"] = outcome["committed_at"] - outcome["paused_at"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commit-after-ms", type=int, default=700)
    ap.add_argument("--canceller", action="store_true", help="the engine's echo canceller on (else the level guard alone)")
    ap.add_argument("--echo-only", type=int, default=12, help="echo-only lines")
    ap.add_argument("--json")
    a = ap.parse_args()
    sd, cd = os.environ.get("TELEDSP_SPEECH_DIR"), os.environ.get("TELEDSP_CALLER_SPEECH_DIR")
    if not sd or not cd:
        sys.exit("set TELEDSP_SPEECH_DIR and TELEDSP_CALLER_SPEECH_DIR (see the docstring)")
    rng = np.random.default_rng(1)
    agent = agent_speech(sd)
    events = caller_events(cd, rng)
    rows = {}
    for i, (kind, x) in enumerate(events):
        rows.setdefault(kind, []).append(trial(agent, x, a.commit_after_ms, a.canceller, i))
    rows["echo only"] = [trial(agent, None, a.commit_after_ms, a.canceller, 1000 + i) for i in range(a.echo_only)]

    def fmt(xs, f="{:.0f}"):
        return f.format(statistics.median(xs)) + " / " + f.format(max(xs)) if xs else "-"

    print(f"commit after {a.commit_after_ms} ms; {'canceller' if a.canceller else 'level guard alone'}; phone latency "
          f"{LATENCY_MS} ms; echo {ECHO_DELAY_MS} ms, ERL {ERL_DB:.0f} dB; noise -60 dBFS\n")
    print("| caller | trials | paused | resumed | answer kept (resumed or never paused) | committed | later pauses (echo) | "
          "gap median / max (ms) | lost median / max (ms) | replayed median / max (ms) | "
          "commit after the onset, median / max (ms) | commit after the caller's first sample, median / max (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for kind, rs in rows.items():
        n = len(rs)
        if n == 0:
            continue
        paused = sum(r["pauses"] > 0 for r in rs)
        # A real interruption's later pauses are the caller's next words
        # (after a resume between them), not the echo's.
        extra = sum(max(0, r["pauses"] - (0 if kind == "echo only" else 1)) for r in rs)
        extra_cell = "-" if kind == "real interruption" else extra
        resumed = sum(r["resumed_at"] is not None and r["committed_at"] is None for r in rs)
        committed = sum(r["committed_at"] is not None for r in rs)
        gaps = [r["gap_ms"] for r in rs if "gap_ms" in r]
        lost = [r["lost_ms"] for r in rs if "lost_ms" in r]
        rep = [r["replayed_ms"] for r in rs if "replayed_ms" in r]
        lat = [r["commit_latency_ms"] for r in rs if "commit_latency_ms" in r]
        lat_onset = [r["commit_after_onset_ms"] for r in rs if "commit_after_onset_ms" in r]
        kept = n - committed
        within = sum(g <= 400 for g in gaps)
        print(f"| {kind} | {n} | {paused} | {resumed} ({within} with a gap <= 400 ms) | {kept} ({100 * kept / n:.0f}%) "
              f"| {committed} ({100 * committed / n:.0f}%) | {extra_cell} | {fmt(gaps)} | {fmt(lost)} | {fmt(rep)} "
              f"| {fmt(lat_onset)} | {fmt(lat)} |")
        summary[kind] = dict(trials=n, paused=paused, resumed=resumed, committed=committed, later_pauses=extra,
                             echo_pauses=None if kind == "real interruption" else extra,
                             gaps=gaps, lost=lost,
                             replayed=rep, commit_after_onset=lat_onset, commit_latency=lat)
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
