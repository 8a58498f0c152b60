#!/usr/bin/env python3
"""teledsp's Python binding against what FastAPI relays use today, side by
side in one process: per 20 ms frame, in bulk, and per Twilio/OpenAI message.

    python benches/python/bench.py            # markdown table on stdout
    python benches/python/bench.py --quick    # fewer repeats (CI smoke)

Each figure is the minimum over repeats of the mean time of a calibrated
loop (the minimum is the least disturbed by a shared, noisy machine); ratios
compare rows measured in the same run. Peers get their best case: soxr is fed
and returns numpy arrays, teledsp goes bytes -> bytes as a relay does.
"""

import argparse
import base64
import itertools
import json
import os
import platform
import sys
import warnings

import numpy as np
import soxr

import teledsp

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # CPython 3.13+
        audioop = None

REPEATS = 7


def timeit(stmt, ns, min_time=0.02):
    """Seconds per execution of the statement `stmt` (names from `ns`): the
    best of REPEATS calibrated loops, as the timeit module does it. Statements
    rather than lambdas, so that a call costs what it costs in a relay."""
    import timeit as _t

    timer = _t.Timer(stmt, globals=ns)
    n, _ = timer.autorange()
    n = max(1, int(n * min_time / 0.2))
    return min(timer.repeat(REPEATS, n)) / n


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def fmt_t(s):
    return f"{s * 1e9:,.0f} ns" if s < 1e-5 else f"{s * 1e6:,.1f} us"


class Table:
    def __init__(self, title, unit_note):
        self.title, self.unit_note, self.rows = title, unit_note, []

    def add(self, what, ours, peers, target=None):
        self.rows.append((what, ours, peers, target))

    def print(self):
        print(f"\n### {self.title}\n\n{self.unit_note}\n")
        print("| operation | teledsp | peer | peer time | teledsp speed-up | target |")
        print("|---|---|---|---|---|---|")
        for what, ours, peers, target in self.rows:
            for i, (name, t) in enumerate(peers):
                ratio = t / ours
                tgt = ""
                if target is not None and i == 0:
                    ok = ratio >= target
                    tgt = f">= {target:g}x: {'met' if ok else 'MISSED'}"
                    RESULTS.append((f"{what} vs {name}", ratio, target, ok))
                print(f"| {what if i == 0 else ''} | {fmt_t(ours) if i == 0 else ''} | {name} | {fmt_t(t)} | {ratio:,.1f}x | {tgt} |")


RESULTS = []


def main():
    global REPEATS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats and short loops (a smoke run, not figures)")
    args = ap.parse_args()
    min_time = 0.02
    if args.quick:
        REPEATS, min_time = 3, 0.002

    rng = np.random.default_rng(7)
    pcm8 = (rng.standard_normal(160) * 4000).astype(np.int16).tobytes()  # 20 ms at 8 kHz
    pcm24 = (rng.standard_normal(480) * 4000).astype(np.int16).tobytes()  # 20 ms at 24 kHz
    ulaw = teledsp.ulaw_encode(pcm8)
    bulk = (rng.standard_normal(8000 * 60) * 4000).astype(np.int16).tobytes()  # 60 s at 8 kHz
    bulk_u = teledsp.ulaw_encode(bulk)
    lut_dec = np.frombuffer(teledsp.ulaw_decode(bytes(range(256))), dtype=np.int16)
    lut_enc = np.frombuffer(teledsp.ulaw_encode(np.arange(65536, dtype=np.uint16).astype(np.int16)), dtype=np.uint8)
    lut_enc = lut_enc[np.arange(65536, dtype=np.uint16).astype(np.int16).astype(np.uint16).argsort()]

    ns = dict(teledsp=teledsp, audioop=audioop, np=np, pcm8=pcm8, ulaw=ulaw, bulk=bulk, bulk_u=bulk_u,
              lut_dec=lut_dec, lut_enc=lut_enc, enc=teledsp.ulaw_encode, dec=teledsp.ulaw_decode,
              lin2ulaw=getattr(audioop, "lin2ulaw", None), ulaw2lin=getattr(audioop, "ulaw2lin", None))

    def T(stmt, **extra):
        return timeit(stmt, {**ns, **extra}, min_time)

    print(f"Machine: {cpu_name()}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
          f"teledsp {teledsp.__version__} ({teledsp.ISA}); numpy {np.__version__}; soxr {soxr.__version__}; "
          f"audioop {'yes' if audioop else 'absent'}")

    codec = Table("G.711 (mu-law)", "Time per call; a frame is 20 ms at 8 kHz (160 samples), bulk is 60 s.")
    if audioop:
        codec.add("decode, 20 ms frame", T("dec(ulaw)"),
                  [("audioop.ulaw2lin", T("ulaw2lin(ulaw, 2)")),
                   ("numpy LUT", T("lut_dec[np.frombuffer(ulaw, np.uint8)].tobytes()"))], target=1)
        codec.add("encode, 20 ms frame", T("enc(pcm8)"),
                  [("audioop.lin2ulaw", T("lin2ulaw(pcm8, 2)")),
                   ("numpy LUT", T("lut_enc[np.frombuffer(pcm8, np.uint16)].tobytes()"))], target=10)
        codec.add("encode, 60 s bulk", T("enc(bulk)"),
                  [("audioop.lin2ulaw", T("lin2ulaw(bulk, 2)")),
                   ("numpy LUT", T("lut_enc[np.frombuffer(bulk, np.uint16)].tobytes()"))], target=25)
        codec.add("decode, 60 s bulk", T("dec(bulk_u)"),
                  [("audioop.ulaw2lin", T("ulaw2lin(bulk_u, 2)")),
                   ("numpy LUT", T("lut_dec[np.frombuffer(bulk_u, np.uint8)].tobytes()"))])
    codec.print()

    rs = Table("Resampling, streaming, 20 ms chunks",
               "Time per chunk and realtime factor = 20 ms / time. teledsp: telephony preset (1.7 ms latency). "
               "soxr HQ has ~67 ms latency, VHQ ~41 ms.")
    for a, b, chunk in ((8000, 24000, pcm8), (24000, 8000, pcm24)):
        ours_r = teledsp.Resampler(a, b)
        ours = T("process(chunk)", process=ours_r.process, chunk=chunk)
        arr = np.frombuffer(chunk, np.int16)
        peers = []
        for q in ("HQ", "VHQ"):
            s = soxr.ResampleStream(a, b, 1, dtype="int16", quality=q)
            peers.append((f"soxr.ResampleStream {q}", T("resample_chunk(arr)", resample_chunk=s.resample_chunk, arr=arr)))
        if audioop:
            rcv = "out, st[0] = ratecv(chunk, 2, 1, a, b, st[0])"
            peers.append(("audioop.ratecv (no filter)", T(rcv, ratecv=audioop.ratecv, chunk=chunk, a=a, b=b, st=[None])))
        rs.add(f"{a // 1000}k -> {b // 1000}k ({0.02 / ours:,.0f}x realtime)", ours, peers, target=5)
    rs.print()

    # Per message, both directions, against the Python pipeline of the seeds.
    frames = [teledsp.ulaw_encode((rng.standard_normal(160) * 4000).astype(np.int16).tobytes()) for _ in range(50)]
    sid = "MZ18ad3ab5a668481ce02b83e7395059f0"
    tw_msgs = [json.dumps({"event": "media", "sequenceNumber": str(i + 2), "media": {"track": "inbound", "chunk": str(i + 1),
               "timestamp": str(20 * i), "payload": base64.b64encode(f).decode()}, "streamSid": sid}) for i, f in enumerate(frames)]
    delta_pcm = (rng.standard_normal(2400) * 4000).astype(np.int16).tobytes()  # 100 ms at 24 kHz
    oa_msg = json.dumps({"type": "response.output_audio.delta", "event_id": "event_1", "response_id": "resp_1",
                         "item_id": "item_1", "output_index": 0, "content_index": 0,
                         "delta": base64.b64encode(delta_pcm).decode()})
    bridge = teledsp.TwilioBridge()
    bridge.twilio_to_openai(json.dumps({"event": "start", "start": {"streamSid": sid, "callSid": "CA1"}, "streamSid": sid}))
    msgs = itertools.cycle(tw_msgs)

    msg_t = Table("Bridge, per message", "Twilio `media` (20 ms) -> OpenAI `input_audio_buffer.append`; OpenAI "
                  "delta (100 ms at 24 kHz) -> five 160-byte Twilio `media` frames + `mark`. The Python pipeline "
                  "is json + base64 + audioop + soxr.ResampleStream HQ, as the seeds' relays do it.")
    if audioop:
        up = soxr.ResampleStream(8000, 24000, 1, dtype="int16", quality="HQ")
        down = soxr.ResampleStream(24000, 8000, 1, dtype="int16", quality="HQ")

        def py_up(text):
            m = json.loads(text)
            if m["event"] == "media":
                pcm = audioop.ulaw2lin(base64.b64decode(m["media"]["payload"]), 2)
                out = up.resample_chunk(np.frombuffer(pcm, np.int16)).tobytes()
                return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(out).decode()})

        pending = bytearray()
        marks = [0]

        def py_down(text):
            m = json.loads(text)
            out = []
            if m["type"] == "response.output_audio.delta":
                pcm = down.resample_chunk(np.frombuffer(base64.b64decode(m["delta"]), np.int16)).tobytes()
                pending.extend(audioop.lin2ulaw(pcm, 2))
                while len(pending) >= 160:
                    out.append(json.dumps({"event": "media", "streamSid": sid,
                                           "media": {"payload": base64.b64encode(bytes(pending[:160])).decode()}}))
                    del pending[:160]
                marks[0] += 1
                out.append(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": f"m{marks[0]}"}}))
            return out

        t_py_up = T("py_up(next(msgs))", py_up=py_up, msgs=msgs)
        t_py_down = T("py_down(oa_msg)", py_down=py_down, oa_msg=oa_msg)
        msg_t.add("Twilio -> OpenAI (TwilioBridge)", T("t2o(next(msgs))", t2o=bridge.twilio_to_openai, msgs=msgs),
                  [("Python pipeline", t_py_up)], target=5)
        msg_t.add("OpenAI -> Twilio (TwilioBridge)", T("o2t(oa_msg)", o2t=bridge.openai_to_twilio, oa_msg=oa_msg),
                  [("Python pipeline", t_py_down)], target=5)
        # The call engine does the same conversions plus the bookkeeping
        # (playout timeline, marks, items); each call returns (target, text) pairs.
        call = teledsp.Call()
        call.receive_phone(json.dumps({"event": "start", "start": {"streamSid": sid, "callSid": "CA1"}, "streamSid": sid}))
        call.open_model()
        msg_t.add("Twilio -> OpenAI (Call.receive_phone)", T("rp(next(msgs))", rp=call.receive_phone, msgs=msgs),
                  [("Python pipeline", t_py_up)])
        msg_t.add("OpenAI -> Twilio (Call.receive_model)", T("rm(oa_msg)", rm=call.receive_model, oa_msg=oa_msg),
                  [("Python pipeline", t_py_down)])
    msg_t.print()

    print("\n### Targets\n")
    for what, ratio, target, ok in RESULTS:
        print(f"- {what}: {ratio:,.1f}x (target {target:g}x) {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
