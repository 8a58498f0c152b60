"""Drop-in for the G.711 and ``ratecv`` functions of CPython's ``audioop``.

``import teledsp.audioop as audioop`` keeps code written for the standard
module (removed in Python 3.13) working:

- ``lin2ulaw``, ``ulaw2lin``, ``lin2alaw``, ``alaw2lin`` return byte for
  byte what CPython 3.11's audioop returns, for ``width=2``. Other widths
  raise ``ValueError``.
- ``ratecv`` keeps audioop's contract (``state=None`` first, then feed back
  the returned state) but filters: teledsp's anti-aliased polyphase
  resampler, mono 16-bit, 8000/16000/24000/48000 Hz in any pair.
- ``error`` is teledsp's base exception (a ``ValueError``), so
  ``except audioop.error`` still catches what these functions raise.
"""

from teledsp._native import (
    RatecvState,
    TeledspError as error,
    alaw2lin,
    lin2alaw,
    lin2ulaw,
    ratecv,
    ulaw2lin,
)

__all__ = ["RatecvState", "alaw2lin", "error", "lin2alaw", "lin2ulaw", "ratecv", "ulaw2lin"]
