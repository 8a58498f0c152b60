"""CPython's ``audioop`` (removed in Python 3.13), exactly.

``import teledsp.audioop as audioop`` keeps code written for the standard
module working: all 26 functions, for widths 1, 2, 3 and 4, with the same
results byte for byte, the same exceptions on the same bad input, and
``ratecv``'s own algorithm and state tuples (``weightA``/``weightB``,
any ``nchannels``). It passes CPython's own ``test_audioop.py``.

``error`` is ``teledsp.TeledspError`` (a ``ValueError``), so ``except
audioop.error`` catches what these functions raise.

To make ``import audioop`` resolve to it on 3.13 (for pydub and the like),
before those libraries are imported::

    import sys, teledsp.audioop
    sys.modules.setdefault("audioop", teledsp.audioop)

``ratecv`` here aliases and images as audioop's does; ``teledsp.ratecv``
has the same calling convention over teledsp's anti-aliased resampler.
"""

from teledsp._native import (
    TeledspError as error,
    audioop_add as add,
    audioop_adpcm2lin as adpcm2lin,
    audioop_alaw2lin as alaw2lin,
    audioop_avg as avg,
    audioop_avgpp as avgpp,
    audioop_bias as bias,
    audioop_byteswap as byteswap,
    audioop_cross as cross,
    audioop_findfactor as findfactor,
    audioop_findfit as findfit,
    audioop_findmax as findmax,
    audioop_getsample as getsample,
    audioop_lin2adpcm as lin2adpcm,
    audioop_lin2alaw as lin2alaw,
    audioop_lin2lin as lin2lin,
    audioop_lin2ulaw as lin2ulaw,
    audioop_max as max,
    audioop_maxpp as maxpp,
    audioop_minmax as minmax,
    audioop_mul as mul,
    audioop_ratecv as ratecv,
    audioop_reverse as reverse,
    audioop_rms as rms,
    audioop_tomono as tomono,
    audioop_tostereo as tostereo,
    audioop_ulaw2lin as ulaw2lin,
)

__all__ = [
    "add", "adpcm2lin", "alaw2lin", "avg", "avgpp", "bias", "byteswap", "cross", "error", "findfactor",
    "findfit", "findmax", "getsample", "lin2adpcm", "lin2alaw", "lin2lin", "lin2ulaw", "max", "maxpp",
    "minmax", "mul", "ratecv", "reverse", "rms", "tomono", "tostereo", "ulaw2lin",
]
