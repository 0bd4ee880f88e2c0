"""The benchmark scripts import their shared modules (``harness``, ``real_sections_data``, ...) as
top-level modules, because ``python benchmarks/NAME.py`` puts benchmarks/ first on ``sys.path``;
the tests import them the same way. Appended, not prepended: nothing here may shadow a module the
rest of the suite imports."""

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))
