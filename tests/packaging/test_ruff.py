"""`ruff check` is clean on the package, its notebooks and the tests (a gate, like the
import-layers contract): a lint finding fails the suite, naming file, line and rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_ruff_check_is_clean() -> None:
    pytest.importorskip("ruff", reason="ruff is a dev extra: pip install -e '.[dev]'")
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         "dovos", "tests"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert checked.returncode == 0, f"ruff check found problems:\n{checked.stdout}{checked.stderr}"
