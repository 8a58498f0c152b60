"""teledsp.audioop against CPython's audioop (3.11, where it still ships):
every function, every width, random fragments and parameters (hypothesis).
Results must be equal; where audioop raises, teledsp must raise the same
exception type. Skipped, loudly, on interpreters without audioop."""

import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teledsp import audioop as tda

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop as ref
    except ImportError:
        ref = None

pytestmark = pytest.mark.skipif(
    ref is None, reason=f"LOUD SKIP: CPython {sys.version.split()[0]} has no audioop to compare with"
)

widths = st.sampled_from([1, 2, 3, 4])
any_width = st.integers(-1, 6)
fragments = st.binary(max_size=400)
factors = st.floats(-4.0, 4.0, allow_nan=False) | st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e10, -1e10])
ints = st.integers(-(2**31), 2**31 - 1)


def kind(e):
    """The exception teledsp must raise where audioop raised `e`."""
    return tda.error if isinstance(e, ref.error) else type(e)


def same(name, *args):
    """Calls audioop.<name> and teledsp.audioop.<name>; equal results or the same exception type."""
    try:
        want = getattr(ref, name)(*args)
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        with pytest.raises(kind(e)):
            getattr(tda, name)(*args)
        return
    assert getattr(tda, name)(*args) == want, (name, args)


@settings(max_examples=300, deadline=None)
@given(fragments, any_width)
def test_one_fragment_functions(frag, width):
    for name in ("max", "minmax", "avg", "rms", "avgpp", "maxpp", "cross", "reverse", "byteswap",
                 "lin2ulaw", "lin2alaw", "ulaw2lin", "alaw2lin"):
        same(name, frag, width)


@settings(max_examples=300, deadline=None)
@given(fragments, widths, st.integers(-3, 200))
def test_getsample(frag, width, index):
    same("getsample", frag, width, index)


@settings(max_examples=300, deadline=None)
@given(fragments, widths, factors, factors)
def test_mul_tomono_tostereo(frag, width, a, b):
    same("mul", frag, width, a)
    same("tomono", frag, width, a, b)
    same("tostereo", frag, width, a, b)


@settings(max_examples=300, deadline=None)
@given(st.data(), widths)
def test_add(data, width):
    a = data.draw(fragments)
    b = data.draw(st.binary(min_size=len(a), max_size=len(a)) | fragments)
    same("add", a, b, width)


@settings(max_examples=300, deadline=None)
@given(fragments, widths, ints)
def test_bias(frag, width, bias):
    same("bias", frag, width, bias)


@settings(max_examples=300, deadline=None)
@given(fragments, any_width, any_width)
def test_lin2lin(frag, width, newwidth):
    same("lin2lin", frag, width, newwidth)


@settings(max_examples=300, deadline=None)
@given(fragments, widths, st.none() | st.tuples(st.integers(-0x8001, 0x8000), st.integers(-1, 89)))
def test_adpcm(frag, width, state):
    same("lin2adpcm", frag, width, state)
    same("adpcm2lin", frag, width, state)
    # Chained: the state one call returns feeds the next, as streams do.
    if ref is not None and len(frag) % width == 0 and state is None:
        half = len(frag) // width // 2 * width
        _, s1 = ref.lin2adpcm(frag[:half], width, None)
        same("lin2adpcm", frag[half:], width, s1)


@settings(max_examples=300, deadline=None)
@given(fragments, widths, st.integers(0, 3), st.sampled_from([8000, 11025, 16000, 22050, 24000, 44100, 48000, 0, -1]),
       st.sampled_from([8000, 16000, 24000, 44100, 48000, 7]), st.integers(0, 3), st.integers(-1, 3))
def test_ratecv_and_its_state(frag, width, nch, inrate, outrate, wa, wb):
    args = (frag, width, nch, inrate, outrate, None, wa, wb)
    same("ratecv", *args)
    try:
        out, state = ref.ratecv(*args)
    except Exception:  # noqa: BLE001 - covered above
        return
    # The state is audioop's tuple, and feeding it back continues the stream identically.
    assert tda.ratecv(*args)[1] == state
    same("ratecv", frag, width, nch, inrate, outrate, state, wa, wb)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_findfit_findfactor_findmax(data):
    ref_frag = data.draw(st.binary(max_size=40))
    frag = data.draw(st.binary(max_size=200))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, args in (("findfit", (frag, ref_frag)), ("findfactor", (frag, frag[::-1])),
                           ("findmax", (frag, data.draw(st.integers(-1, 120))))):
            try:
                want = getattr(ref, name)(*args)
            except Exception as e:  # noqa: BLE001
                with pytest.raises(kind(e)):
                    getattr(tda, name)(*args)
                continue
            got = getattr(tda, name)(*args)
            # NaN (0/0 on silent input) compares unequal to itself: compare reprs.
            assert repr(got) == repr(want), (name, args)


def test_bad_arguments_raise_what_audioop_raises():
    for call in (
        lambda m: m.max("abc", 1),                  # str is not bytes-like
        lambda m: m.max(b"ab", 2.0),                # float width
        lambda m: m.ratecv(b"", 1, 1, 8000, 8000, 42),
        lambda m: m.ratecv(b"", 1, 1, 8000, 8000, (1, (42,))),
        lambda m: m.ratecv(b"", 1, 2, 8000, 8000, (1, ((0, 0),))),
        lambda m: m.lin2adpcm(b"\0", 1, 555),
        lambda m: m.adpcm2lin(b"\0", 1, (0, 89)),
    ):
        try:
            call(ref)
        except Exception as e:  # noqa: BLE001
            with pytest.raises(kind(e)):
                call(tda)
        else:
            pytest.fail("audioop accepted it")


OUT_OF_RANGE = [2**40, -2**40, 2**31, -2**31 - 1, 2**63, -2**63 - 1, 1.5, "x", None]


def _outcome(mod, f, args):
    try:
        return repr(getattr(mod, f)(*args))
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        kind = "error" if isinstance(e, mod.error) else type(e).__name__
        return f"{kind}: {e}"


@pytest.mark.parametrize("v", OUT_OF_RANGE, ids=repr)
def test_out_of_range_ints_in_every_state_and_parameter_as_cpython(v):
    """CPython's argument conversion, exception type and message alike:
    Argument Clinic's int ("Python int too large to convert to C int"),
    Py_ssize_t, and PyArg_ParseTuple's "ii" in the ADPCM and ratecv states
    ("signed integer is greater than maximum")."""
    frag = b"\x00\x01" * 8
    cases = [
        ("lin2adpcm", (frag, 2, (v, 0))), ("lin2adpcm", (frag, 2, (0, v))),
        ("adpcm2lin", (b"\x12", 2, (v, 0))), ("adpcm2lin", (b"\x12", 2, (0, v))),
        ("ratecv", (frag, 2, 1, 8000, 16000, (v, ((0, 0),)))), ("ratecv", (frag, 2, 1, 8000, 16000, (0, ((v, 0),)))),
        ("ratecv", (frag, 2, 1, 8000, 16000, (0, ((0, v),)))),
        ("ratecv", (frag, 2, 1, v, 16000, None)), ("ratecv", (frag, 2, 1, 8000, v, None)),
        ("ratecv", (frag, 2, v, 8000, 16000, None)), ("ratecv", (frag, v, 1, 8000, 16000, None)),
        ("ratecv", (frag, 2, 1, 8000, 16000, None, v, 0)), ("ratecv", (frag, 2, 1, 8000, 16000, None, 1, v)),
        ("mul", (frag, v, 1.0)), ("bias", (frag, 2, v)), ("bias", (frag, v, 1)), ("getsample", (frag, 2, v)),
        ("getsample", (frag, v, 0)), ("findmax", (frag, v)), ("tomono", (frag, v, 1, 1)), ("tostereo", (frag, v, 1, 1)),
        ("lin2lin", (frag, 2, v)), ("lin2lin", (frag, v, 2)), ("max", (frag, v)), ("rms", (frag, v)),
        ("lin2ulaw", (frag, v)), ("ulaw2lin", (frag, v)), ("add", (frag, frag, v)), ("cross", (frag, v)),
    ]
    for f, args in cases:
        assert _outcome(tda, f, args) == _outcome(ref, f, args), f"{f}{args}"
