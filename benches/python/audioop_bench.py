#!/usr/bin/env python3
"""teledsp.audioop against audioop-lts (PyPI: CPython's audioop as a
package, for 3.13+), every function, on 20 ms frames and a 60 s buffer of
16-bit mono speech at 8 kHz, side by side in one process.

    python benches/python/audioop_bench.py           # markdown table on stdout
    python benches/python/audioop_bench.py --quick   # fewer repeats (CI smoke)

The audio is recorded speech when `TELEDSP_SPEECH_DIR` names a folder of
8 kHz 16-bit WAV prompts (scripts/test.sh finds Debian's
asterisk-core-sounds-en-wav), else a synthetic two-tone signal (the header
says which). The 20 ms column calls each function on 500 consecutive
different frames, as a call does (one frame repeated lets the branch
predictor learn it, which no call allows); the 60 s column calls it on one
60 s buffer. Each figure is the best over repeats of the mean time per call
of a calibrated loop, the two sides' repeats interleaved; ratios compare rows measured in the same run. Every
output is checked equal to audioop-lts's before anything is timed.
"""

import argparse
import math
import os
import platform
import sys
import time
import wave

import audioop as lts  # audioop-lts on 3.13
import teledsp.audioop as tda

assert lts is not tda, "run on CPython 3.13+ with audioop-lts installed (stdlib audioop would shadow it)"


def calibrate(f, min_time=0.02):
    """Loop count that makes `f` run for at least `min_time` seconds."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        if time.perf_counter() - t0 >= min_time:
            return n
        n *= 2


def timeit_pair(f, g, repeats):
    """Best mean time per call of `f` and of `g`, their repeats interleaved
    (f, g, f, g, ...) so a busy spell on this shared machine hits both."""
    nf, ng = calibrate(f), calibrate(g)
    best_f = best_g = math.inf
    for _ in range(repeats):
        for fn, n, which in ((f, nf, 0), (g, ng, 1)):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            t = (time.perf_counter() - t0) / n
            if which == 0:
                best_f = min(best_f, t)
            else:
                best_g = min(best_g, t)
    return best_f, best_g


def synthetic(samples: int) -> bytes:
    return b"".join(int(12000 * math.sin(i * 0.07) + 3000 * math.sin(i * 1.3)).to_bytes(2, "little", signed=True)
                    for i in range(samples))


def speech(samples: int):
    """`samples` of recorded speech, prompts back to back, or None."""
    folder = os.environ.get("TELEDSP_SPEECH_DIR")
    if not folder or not os.path.isdir(folder):
        return None
    out = bytearray()
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".wav"):
            continue
        with wave.open(os.path.join(folder, name)) as w:
            if (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1):
                out += w.readframes(w.getnframes())
        if len(out) >= 2 * samples:
            return bytes(out[: 2 * samples])
    return None


def cases(frag: bytes):
    """(name, args) per function, on `frag` (16-bit mono)."""
    w = 2
    ulaw = lts.lin2ulaw(frag, w)
    adpcm, _ = lts.lin2adpcm(frag, w, None)
    return [
        ("getsample", (frag, w, 5)), ("max", (frag, w)), ("minmax", (frag, w)), ("avg", (frag, w)),
        ("rms", (frag, w)), ("avgpp", (frag, w)), ("maxpp", (frag, w)), ("cross", (frag, w)),
        ("mul", (frag, w, 0.7)), ("tomono", (frag, w, 0.5, 0.5)), ("tostereo", (frag, w, 1.0, 0.8)),
        ("add", (frag, frag, w)), ("bias", (frag, w, 100)), ("reverse", (frag, w)), ("byteswap", (frag, w)),
        ("lin2lin", (frag, w, 4)), ("lin2ulaw", (frag, w)), ("ulaw2lin", (ulaw, w)),
        ("lin2alaw", (frag, w)), ("alaw2lin", (lts.lin2alaw(frag, w), w)),
        ("lin2adpcm", (frag, w, None)), ("adpcm2lin", (adpcm, w, None)),
        ("ratecv", (frag, w, 1, 8000, 16000, None)),
        ("findfactor", (frag, frag)), ("findmax", (frag, 80)),
        ("findfit", (frag, frag[:64])),
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    repeats = 2 if a.quick else 7
    n60 = 8000 * (6 if a.quick else 60)
    audio, source = speech(n60), "recorded speech (TELEDSP_SPEECH_DIR)"
    if audio is None:
        audio, source = synthetic(n60), "a synthetic two-tone signal (no TELEDSP_SPEECH_DIR)"
    frames = [audio[i : i + 320] for i in range(0, min(500 * 320, len(audio)), 320)]
    print(f"CPython {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} CPUs; "
          f"teledsp {__import__('teledsp').__version__}, ISA {__import__('teledsp').ISA}; {source}\n")
    print("| function | 20 ms: teledsp | audioop-lts | ratio | 60 s: teledsp | audioop-lts | ratio |")
    print("|---|---|---|---|---|---|---|")
    per_frame = {}
    for frame in frames:
        for name, args in cases(frame):
            per_frame.setdefault(name, []).append(args)
    whole = dict(cases(audio))
    whole["findfit"] = (audio[:16_000], audio[8000:8320])  # quadratic: 1 s against 20 ms
    rows = {}
    for name, argsets in per_frame.items():
        ours, ref = getattr(tda, name), getattr(lts, name)
        for args in argsets + [whole[name]]:
            assert ours(*args) == ref(*args), f"{name}: teledsp differs from audioop-lts"

        def each(f, argsets=argsets):
            for x in argsets:
                f(*x)

        t_ours, t_lts = (t / len(argsets) for t in timeit_pair(lambda: each(ours), lambda: each(ref), repeats))
        x = whole[name]
        t60_ours, t60_lts = timeit_pair(lambda: ours(*x), lambda: ref(*x), repeats)
        rows[name] = ((t_ours, t_lts), (t60_ours, t60_lts))
    fmt = lambda t: f"{t * 1e9:.0f} ns" if t < 1e-6 else f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"  # noqa: E731
    worst = {}
    for name, ((o20, l20), (o60, l60)) in rows.items():
        print(f"| {name} | {fmt(o20)} | {fmt(l20)} | {l20 / o20:.2f}x | {fmt(o60)} | {fmt(l60)} | {l60 / o60:.2f}x |")
        worst[name] = min(l20 / o20, l60 / o60)
    geo = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))  # noqa: E731
    print(f"\ngeometric mean speed-up: 20 ms {geo([l / o for (o, l), _ in rows.values()]):.2f}x, "
          f"60 s {geo([l / o for _, (o, l) in rows.values()]):.2f}x")
    slow = {n: r for n, r in worst.items() if r < 1 / 1.2}
    print("slower than audioop-lts by more than 20% somewhere: " + (", ".join(f"{n} ({r:.2f}x)" for n, r in slow.items()) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
