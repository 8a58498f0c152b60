"""Echo-aware barge-in: does the agent interrupt itself on its own echo, and
does a soft caller still get through? Every system in one run, on the same
signals, followed by the same onset rule.

The line. The agent speaks recorded prompts (TELEDSP_SPEECH_DIR, Debian's
English Allison) through mu-law; the line returns them after a bulk delay
through an echo path at an echo return loss (ERL), adds line noise
(-60 dBFS, or none: a digitally silent line) and goes back through mu-law.
The caller is another voice (TELEDSP_CALLER_SPEECH_DIR, the French June)
at 0 or -10 dB relative to the agent (by RMS over their speech), starting
at 6 s over the agent's speech. Echo paths (unit energy after the delay):

- hybrid8 / hybrid16: a damped 1 kHz ringing with a noise tail over 8 or
  16 ms, the shape of ITU-T G.168's hybrid models (most energy in the first
  milliseconds);
- room: exponentially decaying noise, RT60 300 ms (a speakerphone).

The systems:

- teledsp engine, canceller: `teledsp.Pipeline(echo_cancel=True)` driven in
  20 ms steps, its own VAD and guard deciding (what a relay runs);
- teledsp engine, guard alone: the same without the canceller (the level
  guard at 6 dB);
- AEC3: WebRTC's canceller as LiveKit ships it (`livekit.rtc.AudioProcessingModule`,
  echo cancellation only), 10 ms frames;
- speexdsp: Debian's libspeexdsp MDF canceller (ctypes), 20 ms frames, a
  2048-tap (256 ms) filter, its default;

the last two followed by the engine's onset rule on their output:
teledsp's VAD (speech) on a frame at or above -55 dBFS, once per speech
segment. A barge-in on an echo-only line is false; a caller is missed
when nothing barges in within 1.5 s of their first word.

Reported per system: false barge-ins per minute of agent speech and the
share of echo-only lines with any; caller misses and latency (median, p90)
at 0 and -10 dB; ERLE from 2 s on (cancellers: input over output energy
on frames where the line carries echo); the caller's attenuation in
double talk (output with the caller minus output without, against the
caller); the time to 20 dB of ERLE and, after the echo's delay jumps from
120 to 250 ms, the time back to it; CPU per 20 ms frame (through Python,
this machine).

    TELEDSP_SPEECH_DIR=/usr/share/asterisk/sounds/en_US_f_Allison \\
    TELEDSP_CALLER_SPEECH_DIR=/usr/share/asterisk/sounds/fr_CA_f_June \\
        python benches/python/echo_bargein.py [--quick] [--json out.json]

Needs numpy and livekit (pip) and libspeexdsp1 (apt); a system whose
library is missing is reported as absent, not skipped silently.
"""

import argparse
import base64
import ctypes
import ctypes.util
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import wave

import numpy as np

import teledsp

RATE = 8000
N = 160  # 20 ms
CALLER_AT_S = 6.0
LEVEL_FLOOR_DBFS = -55.0


# ---- signals -----------------------------------------------------------


def prompts(var: str, seconds: float) -> np.ndarray:
    d = os.environ.get(var)
    if not d:
        sys.exit(f"set {var} (see the docstring)")
    out = []
    total = 0
    for p in sorted(pathlib.Path(d).glob("*.wav"))[::3]:
        with wave.open(str(p)) as w:
            if w.getframerate() != RATE or w.getnchannels() != 1:
                continue
            x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        out += [x, np.zeros(RATE // 5, np.int16)]
        total += len(x) + RATE // 5
        if total > seconds * RATE:
            break
    return np.concatenate(out)[: int(seconds * RATE)]


def ulaw(x: np.ndarray) -> np.ndarray:
    return np.frombuffer(teledsp.ulaw_decode(teledsp.ulaw_encode(x.astype(np.int16).tobytes())), np.int16)


def path(kind: str) -> np.ndarray:
    rng = np.random.default_rng(42)
    if kind in ("hybrid8", "hybrid16"):
        ms = 8 if kind == "hybrid8" else 16
        t = np.arange(ms * RATE // 1000) / RATE
        h = np.exp(-t / (ms / 4000)) * np.cos(2 * np.pi * 1000 * t) + 0.3 * rng.standard_normal(len(t)) * np.exp(
            -t / (ms / 3000))
    else:
        t = np.arange(int(0.3 * RATE)) / RATE
        h = rng.standard_normal(len(t)) * 10 ** (-3 * t / 0.3)
    return h / np.sqrt(np.sum(h**2))


def conv(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]


def line(far: np.ndarray, h: np.ndarray, delay_ms: int, erl_db: float, noise_dbfs, caller=None,
         jump=None) -> np.ndarray:
    """The near end: `far`'s echo (delay, path, ERL), the caller, noise, mu-law.
    `jump`: (at_s, delay2_ms), the delay changing mid-call."""
    x = far.astype(float)
    def delayed(ms):
        d = ms * RATE // 1000
        return np.concatenate([np.zeros(d), x[: len(x) - d]])
    echo = conv(delayed(delay_ms), h)
    if jump:
        at = int(jump[0] * RATE)
        echo[at:] = conv(delayed(jump[1]), h)[at:]
    y = echo * 10 ** (-erl_db / 20)
    if caller is not None:
        y = y + caller
    if noise_dbfs is not None:
        y = y + np.random.default_rng(7).standard_normal(len(y)) * 32768 * 10 ** (noise_dbfs / 20)
    return ulaw(np.clip(np.round(y), -32768, 32767))


def dbfs(frame: np.ndarray) -> float:
    return 10 * np.log10(max(np.mean(frame.astype(float) ** 2), 1e-10) / 32768**2)


# ---- systems -----------------------------------------------------------


class Onset:
    """The engine's onset rule on a canceller's output: teledsp's VAD says
    speech, the frame is at or above the level floor, once per segment."""

    def __init__(self):
        self.vad = teledsp.Vad(RATE, 20)
        self.fired = False

    def __call__(self, frame: np.ndarray) -> bool:
        self.vad.process(frame.tobytes())
        if not self.vad.is_speaking:
            self.fired = False
            return False
        if self.fired or dbfs(frame) < LEVEL_FLOOR_DBFS:
            return False
        self.fired = True
        return True


class Speex:
    name = "speexdsp (MDF, 256 ms)"
    lib = None

    @classmethod
    def available(cls):
        if cls.lib is None:
            path_ = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
            try:
                cls.lib = ctypes.CDLL(path_)
            except OSError:
                return False
            cls.lib.speex_echo_state_init.restype = ctypes.c_void_p
            cls.lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
            cls.lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] + [ctypes.c_void_p] * 3
            cls.lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            cls.lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        return True

    def __init__(self):
        self.st = self.lib.speex_echo_state_init(N, 2048)
        rate = ctypes.c_int(RATE)
        self.lib.speex_echo_ctl(self.st, 24, ctypes.byref(rate))  # SPEEX_ECHO_SET_SAMPLING_RATE
        self.out = np.zeros(N, np.int16)

    def process(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        near = np.ascontiguousarray(near)
        far = np.ascontiguousarray(far)
        self.lib.speex_echo_cancellation(self.st, near.ctypes.data, far.ctypes.data, self.out.ctypes.data)
        return self.out.copy()

    def __del__(self):
        if self.lib is not None and getattr(self, "st", None):
            self.lib.speex_echo_state_destroy(self.st)


class Aec3:
    name = "WebRTC AEC3 (livekit)"

    @staticmethod
    def available():
        import importlib.util

        return importlib.util.find_spec("livekit") is not None

    def __init__(self):
        from livekit import rtc

        self.rtc = rtc
        self.apm = rtc.AudioProcessingModule(echo_cancellation=True)

    def process(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        out = []
        for k in (0, N // 2):
            f = self.rtc.AudioFrame(far[k : k + N // 2].tobytes(), RATE, 1, N // 2)
            self.apm.process_reverse_stream(f)
            d = self.rtc.AudioFrame(bytearray(near[k : k + N // 2].tobytes()), RATE, 1, N // 2)
            self.apm.process_stream(d)
            out.append(np.frombuffer(bytes(d.data), np.int16))
        return np.concatenate(out)


class TeledspCanceller:
    """teledsp's canceller alone (for ERLE, double talk and CPU)."""
    name = "teledsp canceller"

    @staticmethod
    def available():
        return True

    def __init__(self):
        self.aec = teledsp.EchoCanceller(RATE, 20)

    def process(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        return np.frombuffer(self.aec.process(far.tobytes(), near.tobytes()), np.int16)


def run_canceller(cls, far: np.ndarray, near: np.ndarray):
    """Output, onsets (frame indices) and seconds spent in the canceller."""
    c = cls()
    onset = Onset()
    out = np.zeros(len(near) // N * N, np.int16)
    onsets, spent = [], 0.0
    for k in range(len(out) // N):
        f, d = far[k * N : (k + 1) * N], near[k * N : (k + 1) * N]
        t0 = time.perf_counter()
        y = c.process(f, d)
        spent += time.perf_counter() - t0
        out[k * N : (k + 1) * N] = y
        if onset(y):
            onsets.append(k)
    return out, onsets, spent


def run_engine(echo_cancel: bool, far: np.ndarray, near: np.ndarray):
    """`teledsp.Pipeline` in 20 ms steps: the agent's audio pushed at 0 (it
    plays from the engine's far-end queue in step with the caller's audio),
    the line's audio in as Twilio media; the barge-in events' frames."""
    p = teledsp.Pipeline(encoding="mulaw", sample_rate=8000, echo_cancel=echo_cancel)
    start = {"event": "start", "streamSid": "MZ", "start": {"streamSid": "MZ", "callSid": "CA"}}
    p.receive_phone(json.dumps(start), 0)
    p.begin_utterance("u", 0)
    p.push_audio("u", teledsp.ulaw_encode(far.tobytes()), 0)
    p.end_utterance("u", 0)
    codes = teledsp.ulaw_encode(near[: len(near) // N * N].tobytes())
    onsets, spent = [], 0.0
    for k in range(len(codes) // N):
        msg = json.dumps({"event": "media", "streamSid": "MZ",
                          "media": {"payload": base64.b64encode(codes[k * N : (k + 1) * N]).decode()}})
        t0 = time.perf_counter()
        outs = p.receive_phone(msg, 20 * k)
        spent += time.perf_counter() - t0
        if any(t == "event" and e["type"] == "barge_in" for t, e in outs):
            onsets.append(k)
            break  # the agent stops; the line's echo would too
    return onsets, spent


# ---- measures ----------------------------------------------------------


def erle(near: np.ndarray, out: np.ndarray, from_s: float, to_s: float | None = None) -> float:
    a, b = int(from_s * RATE), int((to_s or len(out) / RATE) * RATE)
    pn = po = 0.0
    for k in range(a // N, b // N):
        d, o = near[k * N : (k + 1) * N].astype(float), out[k * N : (k + 1) * N].astype(float)
        if dbfs(d) > -50:
            pn += np.sum(d**2)
            po += np.sum(o**2)
    return 10 * np.log10(max(pn, 1e-9) / max(po, 1e-9))


def time_to(near: np.ndarray, out: np.ndarray, target: float, from_s: float) -> float | None:
    """Seconds from `from_s` to the first 0.5 s window at `target` dB of ERLE."""
    t = from_s
    while t + 0.5 <= len(out) / RATE:
        if erle(near, out, t, t + 0.5) >= target:
            return round(t + 0.5 - from_s, 2)
        t += 0.25
    return None


def pct(xs, q):
    return float(np.percentile(xs, q)) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small grid (for a smoke run)")
    ap.add_argument("--seconds", type=float, default=20.0, help="agent speech per line")
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    delays = [40, 120, 250] if a.quick else [40, 120, 250, 500]
    erls = [6, 20] if a.quick else [0, 6, 10, 20]
    paths = ["hybrid16", "room"] if a.quick else ["hybrid8", "hybrid16", "room"]
    noises = [-60.0] if a.quick else [-60.0, None]
    agent = ulaw(prompts("TELEDSP_SPEECH_DIR", a.seconds))
    caller_speech = prompts("TELEDSP_CALLER_SPEECH_DIR", a.seconds - CALLER_AT_S).astype(float)
    agent_speech_min = np.mean([dbfs(agent[k * N : (k + 1) * N]) > -45 for k in range(len(agent) // N)]) * len(
        agent) / RATE / 60
    rms = lambda x: np.sqrt(np.mean(x.astype(float) ** 2))  # noqa: E731
    cancellers = [c for c in (TeledspCanceller, Aec3, Speex) if c.available()]
    absent = [c.name for c in (Aec3, Speex) if not c.available()]
    systems = ["teledsp engine, canceller", "teledsp engine, guard alone"] + [c.name for c in cancellers
                                                                              if c is not TeledspCanceller]
    res = {s: {"false": 0, "lines": 0, "lines_false": 0, "minutes": 0.0, "lat": {0: [], -10: []},
               "miss": {0: 0, -10: 0}, "callers": {0: 0, -10: 0}, "erle": [], "dt": [], "conv": [],
               "reconv": [], "cpu": []} for s in systems + ["teledsp canceller"]}
    by_case = {}

    def record(system, onsets, caller_db=None, cpu=None, frames=None):
        r = res[system]
        if cpu is not None and frames:
            r["cpu"].append(cpu / frames * 1e6)
        if caller_db is None:
            r["lines"] += 1
            r["minutes"] += agent_speech_min
            r["false"] += len(onsets)
            r["lines_false"] += bool(onsets)
            return bool(onsets)
        r["callers"][caller_db] += 1
        at = int(CALLER_AT_S * RATE / N)
        if any(k < at for k in onsets):
            r["false"] += 0  # counted on the echo-only line already
        hits = [k for k in onsets if at <= k <= at + 75]
        if hits:
            r["lat"][caller_db].append((hits[0] - at) * 20)
        else:
            r["miss"][caller_db] += 1
        return None

    cases = [(p, d, e, nz) for p in paths for d in delays for e in erls for nz in noises]
    t_start = time.time()
    for i, (pk, d, e, nz) in enumerate(cases):
        h = path(pk)
        near = line(agent, h, d, e, nz)
        key = f"{pk} {d} ms ERL {e} dB noise {nz}"
        row = {}
        for ec, name in ((True, systems[0]), (False, systems[1])):
            onsets, spent = run_engine(ec, agent, near)
            row[name] = record(name, onsets, cpu=spent, frames=len(near) // N)
        for cls in cancellers:
            out, onsets, spent = run_canceller(cls, agent, near)
            name = cls.name
            if cls is not TeledspCanceller:
                row[name] = record(name, onsets, cpu=spent, frames=len(near) // N)
            else:
                res[name]["cpu"].append(spent / (len(near) // N) * 1e6)
            if nz is not None and e <= 10:
                res[name]["erle"].append(erle(near, out, 2.0))
                res[name]["conv"].append(time_to(near, out, 20.0, 0.0))
        by_case[key] = row
        # A caller over the agent, at 0 and -10 dB, on the lines with noise and ERL 6-10 dB.
        if nz is not None and e in (6, 10):
            for cdb in (0, -10):
                g = 10 ** (cdb / 20) * rms(agent) / rms(caller_speech)
                caller = np.zeros(len(agent))
                at = int(CALLER_AT_S * RATE)
                caller[at : at + len(caller_speech)] = caller_speech[: len(agent) - at] * g
                near_c = line(agent, h, d, e, nz, caller=caller)
                for ec, name in ((True, systems[0]), (False, systems[1])):
                    onsets, _ = run_engine(ec, agent, near_c)
                    record(name, onsets, caller_db=cdb)
                for cls in cancellers:
                    out_c, onsets, _ = run_canceller(cls, agent, near_c)
                    if cls is not TeledspCanceller:
                        record(cls.name, onsets, caller_db=cdb)
                    if cdb == 0 and pk == "hybrid16" and d == 120:
                        out_e, _, _ = run_canceller(cls, agent, near)
                        span = slice(at, at + 4 * RATE)
                        added = out_c[span].astype(float) - out_e[span].astype(float)
                        res[cls.name]["dt"].append(10 * np.log10(np.mean(caller[span] ** 2) / max(np.mean(added**2), 1e-9)))
        print(f"[{i + 1}/{len(cases)}] {key}: " + ", ".join(f"{k}: {'FALSE' if v else 'ok'}" for k, v in row.items()),
              file=sys.stderr, flush=True)
    # Re-convergence after the delay jumps from 120 to 250 ms at 8 s.
    h = path("hybrid16")
    near = line(agent, h, 120, 6, -60.0, jump=(8.0, 250))
    for cls in cancellers:
        out, _, _ = run_canceller(cls, agent, near)
        res[cls.name]["reconv"].append(time_to(near, out, 20.0, 8.0))
        res[cls.name]["jump_erle"] = (round(erle(near, out, 6.0, 8.0), 1), round(erle(near, out, 9.0, 10.0), 1))

    def fmt(x, nd=1):
        return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"

    print(f"\n{len(cases)} echo-only lines per system ({a.seconds:.0f} s each, {agent_speech_min * 60:.0f} s of agent speech); "
          f"callers at 0 and -10 dB on the noisy ERL 6/10 dB lines; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; {time.time() - t_start:.0f} s")
    if absent:
        print(f"ABSENT (library missing): {', '.join(absent)}")
    print("\n| system | false barge-ins /min | echo-only lines with any | missed 0 dB | median / p90 0 dB (ms) "
          "| missed -10 dB | median / p90 -10 dB (ms) | CPU us / 20 ms |")
    print("|---|---|---|---|---|---|---|---|")
    out_json = {"systems": {}, "cases": by_case}
    for s in systems:
        r = res[s]
        row = {
            "false_per_min": r["false"] / max(r["minutes"], 1e-9),
            "lines_with_false": r["lines_false"] / max(r["lines"], 1),
            "miss0": f"{r['miss'][0]}/{r['callers'][0]}", "miss10": f"{r['miss'][-10]}/{r['callers'][-10]}",
            "lat0": (pct(r["lat"][0], 50), pct(r["lat"][0], 90)), "lat10": (pct(r["lat"][-10], 50), pct(r["lat"][-10], 90)),
            "cpu": statistics.median(r["cpu"]) if r["cpu"] else None,
        }
        out_json["systems"][s] = row
        print(f"| {s} | {row['false_per_min']:.2f} | {100 * row['lines_with_false']:.0f}% | {row['miss0']} | "
              f"{fmt(row['lat0'][0], 0)} / {fmt(row['lat0'][1], 0)} | {row['miss10']} | "
              f"{fmt(row['lat10'][0], 0)} / {fmt(row['lat10'][1], 0)} | {fmt(row['cpu'])} |")
    print("\n| canceller | ERLE from 2 s (dB, median) | to 20 dB (s, median) | caller cut in double talk (dB) "
          "| ERLE before / 1-2 s after a 120 -> 250 ms jump | back to 20 dB after it (s) | CPU us / 20 ms |")
    print("|---|---|---|---|---|---|---|")
    for cls in cancellers:
        r = res[cls.name]
        conv = [c for c in r["conv"] if c is not None]
        row = {
            "erle": statistics.median(r["erle"]) if r["erle"] else None,
            "conv": statistics.median(conv) if conv else None, "conv_never": len(r["conv"]) - len(conv),
            "dt": statistics.median(r["dt"]) if r["dt"] else None,
            "jump": r.get("jump_erle"), "reconv": r["reconv"][0] if r["reconv"] else None,
            "cpu": statistics.median(r["cpu"]) if r["cpu"] else None,
        }
        out_json["systems"].setdefault(cls.name, {}).update(row)
        never = f" ({row['conv_never']} never)" if row["conv_never"] else ""
        print(f"| {cls.name} | {fmt(row['erle'])} | {fmt(row['conv'], 2)}{never} | {fmt(row['dt'], 2)} | "
              f"{row['jump'][0] if row['jump'] else '-'} / {row['jump'][1] if row['jump'] else '-'} | "
              f"{fmt(row['reconv'], 2)} | {fmt(row['cpu'])} |")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(out_json, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
