"""Every docstring example of the public API runs and gives what it shows."""

import doctest

import pytest

import teledsp
import teledsp.audioop


def objects():
    for mod in (teledsp, teledsp.audioop):
        yield mod.__name__, mod
        for name in mod.__all__:
            yield f"{mod.__name__}.{name}", getattr(mod, name)


def test_every_public_item_has_a_docstring():
    missing = [n for n, o in objects() if not isinstance(o, str) and not (getattr(o, "__doc__", None) or "").strip()]
    assert missing == []


@pytest.mark.parametrize("name,obj", [(n, o) for n, o in objects() if not isinstance(o, str)])
def test_docstring_examples(name, obj):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(obj, name, globs={}):
        runner.run(test)
    assert runner.failures == 0, f"{name}: {runner.failures} failing example(s)"


def test_the_examples_exist():
    # The doctests above are not vacuous: the main items carry examples.
    for obj in (teledsp.ulaw_encode, teledsp.Resampler, teledsp.Framer, teledsp.Vad, teledsp.TwilioBridge, teledsp.Call, teledsp.RequestValidator, teledsp.audioop.ratecv):
        assert ">>>" in obj.__doc__, obj
