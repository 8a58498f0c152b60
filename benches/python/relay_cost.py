"""What a call costs each relay, in one run: CPU per call-second (user and
system apart), round trip and frames lost, for `teledsp-relay` against
`audioop_relay.py` (json + base64 + audioop + soxr: the seeds' way, the
baseline) and optionally the other relays, at each load, interleaved
(relay A, B, A, B ...) so the machine's drift falls on all alike.

Each run: `teledsp-sim fake-openai --mode echo-frames` (every appended
frame comes back, in deltas of --echo-delta-ms) and `teledsp-sim loadtest`
pinned to one core, the relay alone on the other (`taskset`), N real-time
Twilio calls of --duration seconds started over --ramp seconds.

    python benches/python/relay_cost.py --calls 50 500 --duration 20 --rounds 2 \\
        [--relays rust,audioop,python,old=PATH] [--rust-bin target/release/teledsp-relay]

A relay named NAME=PATH is another build of teledsp-relay (an older
commit's, say), run as `rust` is.

Needs the release build (teledsp-relay, teledsp-sim) and a Python with the
examples' requirements (uvicorn, numpy, soxr) and teledsp for `python`.
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "bindings" / "python" / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port} after {seconds}s")


def pinned(core: int | None, cmd: list[str]) -> list[str]:
    return cmd if core is None else ["taskset", "-c", str(core), *cmd]


def relay_cmd(kind: str, port: int, model_url: str, a) -> tuple[list[str], dict, str]:
    """The command, its environment and its media path."""
    env = dict(os.environ, OPENAI_API_KEY="sk-cost", RUST_LOG="warn", RELAY_LOG_LEVEL="WARNING",
               OPENAI_REALTIME_URL=model_url, PYTHONPATH=str(EXAMPLES))
    listen = f"127.0.0.1:{port}"
    # --openai-url: the old name of --model-url, which every relay (and older builds) take.
    common = ["serve", "--listen", listen, "--openai-url", model_url, "--insecure-no-signature"]
    if kind == "rust" or "=" in kind:  # NAME=PATH: another build of teledsp-relay
        return [a.rust_bin if kind == "rust" else kind.split("=", 1)[1], *common], env, "/media"
    if kind == "audioop":
        return [sys.executable, "-m", "uvicorn", "audioop_relay:app", "--port", str(port), "--log-level", "warning",
                "--app-dir", str(EXAMPLES)], env, "/media-stream"
    if kind == "python":
        return [sys.executable, str(EXAMPLES / "fastapi_relay.py"), *common], env, "/media"
    if kind == "node":
        return ["node", str(ROOT / "bindings/node/examples/nest-gateway/dist/main.js"), *common], env, "/media"
    raise SystemExit(f"unknown relay {kind}")


def one_run(kind: str, calls: int, a) -> dict:
    fake_port, relay_port = free_port(), free_port()
    fake = subprocess.Popen(pinned(a.load_core, [a.sim_bin, "fake-openai", "--mode", "echo-frames", "--echo-delta-ms",
                                                 str(a.echo_delta_ms), "--listen", f"127.0.0.1:{fake_port}"]),
                            stdout=subprocess.DEVNULL)
    cmd, env, path = relay_cmd(kind, relay_port, f"ws://127.0.0.1:{fake_port}/v1/realtime", a)
    relay = subprocess.Popen(pinned(a.relay_core, cmd), env=env, stdout=subprocess.DEVNULL)
    try:
        wait_port(fake_port)
        wait_port(relay_port)
        time.sleep(0.5)
        out = subprocess.run(pinned(a.load_core, [a.sim_bin, "loadtest", "--target", f"ws://127.0.0.1:{relay_port}{path}",
                                                  "--calls", str(calls), "--duration", str(a.duration), "--ramp", str(a.ramp),
                                                  "--echo-delta-ms", str(a.echo_delta_ms), "--relay-pid", str(relay.pid)]),
                             capture_output=True, text=True, timeout=a.duration + a.ramp + 120, check=True).stdout
    finally:
        for p in (relay, fake):
            p.send_signal(signal.SIGKILL)
            p.wait()
    num = r"([0-9.]+)"
    cpu = re.search(rf"relay CPU: {num} ms per call-second \(user {num}, system {num}\)", out)
    trip = re.search(rf"p50 {num} ms, p99 {num} ms", out)
    frames = re.search(r"frames: (\d+) sent, (\d+) lost", out)
    held = re.search(r"calls held: (\d+) \(failed (\d+)\)", out)
    if not (cpu and trip and frames and held):
        raise SystemExit(f"unexpected loadtest output:\n{out}")
    return {"cpu": float(cpu[1]), "user": float(cpu[2]), "sys": float(cpu[3]), "p50": float(trip[1]), "p99": float(trip[2]),
            "sent": int(frames[1]), "lost": int(frames[2]), "held": int(held[1]), "failed": int(held[2])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, nargs="+", default=[50, 500])
    p.add_argument("--duration", type=int, default=20)
    p.add_argument("--ramp", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--relays", default="rust,audioop")
    p.add_argument("--echo-delta-ms", type=int, default=100)
    p.add_argument("--rust-bin", default=str(ROOT / "target/release/teledsp-relay"))
    p.add_argument("--sim-bin", default=str(ROOT / "target/release/teledsp-sim"))
    p.add_argument("--relay-core", type=int, default=1, help="the relay's core (taskset); -1: not pinned")
    p.add_argument("--load-core", type=int, default=0, help="the load test's and fake's core; -1: not pinned")
    a = p.parse_args()
    a.relay_core = None if a.relay_core < 0 else a.relay_core
    a.load_core = None if a.load_core < 0 else a.load_core
    kinds = a.relays.split(",")
    print(f"{os.cpu_count()} cores; relay on core {a.relay_core}, load test and fake on core {a.load_core}; "
          f"{a.duration} s calls, ramp {a.ramp} s, deltas of {a.echo_delta_ms} ms", flush=True)
    results: dict[tuple[str, int], list[dict]] = {}
    for calls in a.calls:
        for rnd in range(a.rounds):
            for kind in kinds:
                r = one_run(kind, calls, a)
                results.setdefault((kind, calls), []).append(r)
                print(f"{calls:5d} calls  {kind.split('=')[0]:8s} round {rnd + 1}: CPU {r['cpu']:.3f} ms/call-s (user {r['user']:.3f}, "
                      f"system {r['sys']:.3f}); round trip p50 {r['p50']:.1f} / p99 {r['p99']:.1f} ms; "
                      f"lost {r['lost']} of {r['sent']}; failed {r['failed']}", flush=True)
    print("\n| calls | relay | CPU ms per call-second (user / system) | round trip p50 / p99 | frames lost |")
    print("|---|---|---|---|---|")
    for calls in a.calls:
        for kind in kinds:
            rs = results[(kind, calls)]
            m = lambda k: statistics.mean(r[k] for r in rs)  # noqa: E731
            print(f"| {calls} | {kind.split('=')[0]} | {m('cpu'):.3f} ({m('user'):.3f} / {m('sys'):.3f}) | "
                  f"{m('p50'):.1f} / {m('p99'):.1f} ms | {sum(r['lost'] for r in rs)} of {sum(r['sent'] for r in rs)} |")
        if "rust" in kinds:
            base = statistics.mean(r["cpu"] for r in results[("rust", calls)])
            for kind in kinds:
                if kind != "rust":
                    other = statistics.mean(r["cpu"] for r in results[(kind, calls)])
                    print(f"{calls} calls: {kind.split('=')[0]} / rust CPU = {other / base:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
