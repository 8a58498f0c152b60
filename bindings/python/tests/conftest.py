import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
ITU = REPO / "dsp" / "tests" / "data" / "itu-g711"


@pytest.fixture(scope="session")
def itu():
    """The ITU-T G.191 G.711 vectors, as the bytes of each file."""
    if not ITU.is_dir():
        pytest.fail(f"ITU vectors missing at {ITU}: run from a checkout of the repository")
    return {p.name: p.read_bytes() for p in ITU.iterdir() if not p.name.endswith(".md")}


def low_bytes(words: bytes) -> bytes:
    """STL code files hold one code per 16-bit word, in the low byte."""
    return words[0::2]
