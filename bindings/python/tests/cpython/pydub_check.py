"""pydub (PyPI) on teledsp.audioop: the same operations give the same
bytes as on CPython's own audioop.

    python pydub_check.py    # one digest per operation

Run it on CPython 3.11 (stdlib audioop) and on 3.13 (``import audioop``
resolved to ``teledsp.audioop``, as the docs say to): the outputs must match.
``scripts/test.sh`` runs both and compares them.
"""

import hashlib
import math
import sys

if sys.version_info >= (3, 13):
    import teledsp.audioop

    sys.modules.setdefault("audioop", teledsp.audioop)

from pydub import AudioSegment  # noqa: E402 - after the audioop alias

pcm = b"".join(int(9000 * math.sin(i * 0.05) + 2000 * math.sin(i * 0.9)).to_bytes(2, "little", signed=True)
               for i in range(8000))
seg = AudioSegment(pcm, sample_width=2, frame_rate=8000, channels=1)
ops = {
    "rms": seg.rms,
    "max": seg.max,
    "dBFS": round(seg.dBFS, 9),
    "gain": seg.apply_gain(-6.5).raw_data,
    "16k": seg.set_frame_rate(16000).raw_data,
    "stereo": seg.set_channels(2).raw_data,
    "mono": seg.set_channels(2).set_channels(1).raw_data,
    "8bit": seg.set_sample_width(1).raw_data,
    "24bit": seg.set_sample_width(3).raw_data,
    "overlay": seg.overlay(seg.reverse(), gain_during_overlay=-3).raw_data,
    "fade": seg.fade_in(200).fade_out(300).raw_data,
    "invert": seg.invert_phase().raw_data,
}
for name, value in ops.items():
    data = value if isinstance(value, bytes) else repr(value).encode()
    print(name, hashlib.sha256(data).hexdigest()[:16])
