"""The GIL is released only over memory no Python code can write meanwhile.

A bytearray is mutable: if a call read it without the GIL, another thread
could rewrite it halfway through and the result would mix old and new
samples. These tests rewrite a large bytearray from another thread, whole
buffer at a time, while the main thread encodes it, and check every result
is the encoding of one version or the other, never a mix.
"""

import threading

import pytest

import teledsp
import teledsp._native
import teledsp.audioop as audioop

N = 4 * 1024 * 1024  # bytes: far above GIL_RELEASE_BYTES
A = bytes([0x00, 0x10]) * (N // 2)
B = bytes([0x00, 0xF0]) * (N // 2)

CALLS = [
    ("ulaw_encode", teledsp.ulaw_encode),
    ("audioop.mul", lambda b: audioop.mul(b, 2, 0.5)),
    ("audioop.lin2alaw", lambda b: audioop.lin2alaw(b, 2)),
    ("Resampler.process", lambda b: teledsp.Resampler(8000, 16000).process(b)),
]


@pytest.mark.parametrize("name,f", CALLS, ids=[c[0] for c in CALLS])
def test_a_bytearray_rewritten_by_another_thread_is_read_whole(name, f):
    assert N >= teledsp._native.GIL_RELEASE_BYTES
    allowed = {f(A), f(B)}
    buf = bytearray(A)
    stop = threading.Event()
    writes = 0

    def writer():
        nonlocal writes
        while not stop.is_set():
            buf[:] = B if writes % 2 == 0 else A
            writes += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        results = [f(buf) for _ in range(30)]
    finally:
        stop.set()
        t.join()
    assert writes > 0, "the writer never ran: the test proves nothing"
    mixed = sum(r not in allowed for r in results)
    assert mixed == 0, f"{name}: {mixed} of {len(results)} results mix old and new data"


def test_bytes_input_still_releases_the_gil():
    # bytes is immutable: large calls on it run without the GIL, so another
    # Python thread makes progress during them.
    big = bytes(A) * 8
    ticks = 0
    stop = threading.Event()

    def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=ticker)
    t.start()
    try:
        before = ticks
        for _ in range(5):
            teledsp.ulaw_encode(big)
        during = ticks - before
    finally:
        stop.set()
        t.join()
    assert during > 0
