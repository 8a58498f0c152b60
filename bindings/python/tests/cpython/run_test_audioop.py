"""Runs CPython's own ``Lib/test/test_audioop.py``, unmodified, against
``teledsp.audioop``: ``import audioop`` resolves to it, as it would for any
library on Python 3.13 (see ``teledsp.audioop``'s docs).

    python run_test_audioop.py PATH/TO/test_audioop.py

The file is taken at test time from an interpreter that still ships it
(CPython 3.12 or earlier), not vendored. Prints "test_audioop: N passed,
M failed" and exits non-zero on any failure.
"""

import importlib.util
import sys
import unittest

import teledsp.audioop

sys.modules["audioop"] = teledsp.audioop

spec = importlib.util.spec_from_file_location("test_audioop", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
result = unittest.TextTestRunner(verbosity=1).run(unittest.defaultTestLoader.loadTestsFromModule(module))
bad = len(result.failures) + len(result.errors)
print(f"test_audioop on Python {sys.version.split()[0]}: {result.testsRun - bad} passed, {bad} failed")
sys.exit(0 if result.wasSuccessful() else 1)
