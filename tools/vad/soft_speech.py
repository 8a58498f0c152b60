"""The VAD's soft-speech floor: how much quiet speech teledsp's VAD (and the
engine's onset rule: speech at or above -55 dBFS) detects, by level.

Held-out English prompts (Debian's Allison voice; TELEDSP_SPEECH_DIR) each
scaled to an active speech level (RMS over the prompt's frames above
-50 dBFS before scaling) of -20 to -40 dBFS, 1 s of line between prompts,
line noise at -60 dBFS or none, through mu-law. Per level:

- prompts detected: the VAD's speech state begins within the prompt, at or
  above the onset rule's -55 dBFS floor;
- onset latency: from the prompt's first frame above -45 dBFS to that onset
  (median, p90);
- frame recall: speech frames (the clean prompt's frame over -45 dBFS
  relative to full scale after scaling... -15 dB below the active level)
  that the VAD calls speech;
- false onsets in the 1 s gaps (line noise only).

    TELEDSP_SPEECH_DIR=/usr/share/asterisk/sounds/en_US_f_Allison python tools/vad/soft_speech.py [--prompts 60]
"""

import argparse
import os
import pathlib
import sys
import wave

import numpy as np

import teledsp

N = 160
FLOOR = -55.0


def dbfs(x):
    return 10 * np.log10(max(np.mean(x.astype(float) ** 2), 1e-10) / 32768**2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=60)
    a = ap.parse_args()
    d = os.environ.get("TELEDSP_SPEECH_DIR") or sys.exit("set TELEDSP_SPEECH_DIR")
    clips = []
    for p in sorted(pathlib.Path(d).glob("*.wav"))[1::4]:
        with wave.open(str(p)) as w:
            if w.getframerate() == 8000 and w.getnframes() > 8000 * 0.6:
                clips.append(np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(float))
        if len(clips) == a.prompts:
            break
    rng = np.random.default_rng(3)
    print(f"{len(clips)} prompts; teledsp VAD, 20 ms frames at 8 kHz, mu-law\n")
    print("| active level | line noise | prompts detected | onset median / p90 (ms) | frame recall | false onsets in gaps |")
    print("|---|---|---|---|---|---|")
    for noise in (-60.0, None):
        for level in (-20, -25, -30, -35, -40):
            vad = teledsp.Vad(8000, 20)
            detected, lat, rec_hit, rec_n, false = 0, [], 0, 0, 0
            for c in clips:
                frames = c[: len(c) // N * N].reshape(-1, N)
                active = np.array([dbfs(f) > -50 for f in frames])
                rms = np.sqrt(np.mean(frames[active] ** 2)) if active.any() else 1.0
                g = 32768 * 10 ** (level / 20) / rms
                gap = np.zeros(8000)
                x = np.concatenate([gap, c * g, gap])
                if noise is not None:
                    x = x + rng.standard_normal(len(x)) * 32768 * 10 ** (noise / 20)
                x = np.clip(np.round(x), -32768, 32767).astype(np.int16)
                x = np.frombuffer(teledsp.ulaw_decode(teledsp.ulaw_encode(x.tobytes())), np.int16)
                speech = np.concatenate([np.zeros(50, bool), [dbfs(f * g) > level - 15 for f in frames], np.zeros(50, bool)])
                first = 50 + int(np.argmax([dbfs(f * g) > -45 for f in frames]))
                was, onset = False, None
                for k in range(len(x) // N):
                    f = x[k * N : (k + 1) * N]
                    vad.process(f.tobytes())
                    now = vad.is_speaking
                    if speech[k] if k < len(speech) else False:
                        rec_n += 1
                        rec_hit += now
                    if now and not was and dbfs(f) >= FLOOR:
                        if 50 <= k < 50 + len(frames):
                            if onset is None:
                                onset = k
                        else:
                            false += 1
                    was = now if (not now or dbfs(f) >= FLOOR or was) else was
                if onset is not None:
                    detected += 1
                    lat.append(max(onset - first, 0) * 20)
            med = f"{np.median(lat):.0f} / {np.percentile(lat, 90):.0f}" if lat else "-"
            print(f"| {level} dBFS | {'none' if noise is None else f'{noise:.0f} dBFS'} | {detected}/{len(clips)} | {med} | "
                  f"{100 * rec_hit / max(rec_n, 1):.0f}% | {false} |")


if __name__ == "__main__":
    main()
