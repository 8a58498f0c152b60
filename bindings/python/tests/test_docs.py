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
    for obj in (teledsp.ulaw_encode, teledsp.Resampler, teledsp.Framer, teledsp.Vad, teledsp.TwilioBridge, teledsp.Call, teledsp.RequestValidator, teledsp.audioop.ratecv, teledsp.ratecv):
        assert ">>>" in obj.__doc__, obj


def test_the_readme_relay_compiles_and_imports():
    """The 60-line relay in bindings/python/README.md is real code."""
    import os
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    [code] = [c for c in re.findall(r"```python\n(.*?)```", readme, re.S) if "FastAPI()" in c]
    assert 50 <= code.count("\n") <= 75
    os.environ.setdefault("TWILIO_AUTH_TOKEN", "readme-test")
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert [r.path for r in ns["app"].routes if r.path == "/media"] == ["/media"]
