"""The layers of DESIGN.md hold: `lint-imports` keeps the contracts in `.importlinter`
(CLI down to config, no upward imports, no import cycles)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    if importlib.util.find_spec("importlinter") is None:
        pytest.skip("import-linter is not installed (pip install import-linter, or .[dev])")
    config = ROOT / ".importlinter"
    assert config.is_file(), f"{config} is missing"
    done = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
         "--no-cache", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert " 0 broken" in report, report
    assert "Dovos layers" in report, report  # the layers contract was among those checked
