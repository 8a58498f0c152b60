#!/usr/bin/env python3
"""teledsp.audioop against audioop-lts (PyPI: CPython's audioop as a
package, for 3.13+), every function, on a 20 ms frame and a 60 s buffer
(16-bit mono at 8 kHz; stereo input for tomono), side by side in one process.

    python benches/python/audioop_bench.py           # markdown table on stdout
    python benches/python/audioop_bench.py --quick   # fewer repeats (CI smoke)

Each figure is the minimum over repeats of the mean time of a calibrated
loop; ratios compare rows measured in the same run. Outputs are checked
equal before anything is timed.
"""

import argparse
import math
import os
import platform
import sys
import time

import audioop as lts  # audioop-lts on 3.13
import teledsp.audioop as tda

assert lts is not tda, "run on CPython 3.13+ with audioop-lts installed (stdlib audioop would shadow it)"


def timeit(f, repeats, min_time=0.02):
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
        n *= 2
    best = dt / n
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def pcm(samples: int) -> bytes:
    return b"".join(int(12000 * math.sin(i * 0.07) + 3000 * math.sin(i * 1.3)).to_bytes(2, "little", signed=True)
                    for i in range(samples))


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
    sizes = [("20 ms", pcm(160)), ("60 s", pcm(8000 * (6 if a.quick else 60)))]
    print(f"CPython {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} CPUs; "
          f"teledsp {tda.error.__module__.split('.')[0]} {__import__('teledsp').__version__}, ISA {__import__('teledsp').ISA}\n")
    print("| function | 20 ms: teledsp | audioop-lts | ratio | 60 s: teledsp | audioop-lts | ratio |")
    print("|---|---|---|---|---|---|---|")
    rows = {}
    for label, frag in sizes:
        for name, args in cases(frag):
            if name == "findfit" and label == "60 s":
                args = (frag[:16_000], frag[:320])  # quadratic: 1 s against 20 ms
            want, got = getattr(lts, name)(*args), getattr(tda, name)(*args)
            assert want == got, f"{name} on {label}: teledsp differs from audioop-lts"
            t_ours = timeit(lambda n=name, x=args: getattr(tda, n)(*x), repeats)
            t_lts = timeit(lambda n=name, x=args: getattr(lts, n)(*x), repeats)
            rows.setdefault(name, []).append((t_ours, t_lts))
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
