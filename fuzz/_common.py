"""Shared set-up of the fuzz harnesses: the repository on the path, atheris' runner."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run(test_one_input, argv: list[str]) -> None:
    """``atheris.Setup`` + ``Fuzz`` with libFuzzer's own arguments (``-runs=N`` ...)."""
    import atheris

    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
