"""`dovos notebooks copy DEST` / `dovos.resources.copy_notebooks`: the packaged notebooks
copied out for editing, never silently over a user's edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dovos.cli import app
from dovos.resources import copy_notebooks, notebook_paths

runner = CliRunner()


def test_the_package_ships_the_report_notebooks() -> None:
    names = {path.name for path in notebook_paths()}
    assert {"worker.ipynb", "compare_rankings.ipynb", "tune_hybrid_weights.ipynb",
            "latency_vs_golden.ipynb"} <= names


def test_copy_makes_editable_copies_in_a_new_folder(tmp_path: Path) -> None:
    dest = tmp_path / "mine" / "notebooks"
    copies = copy_notebooks(dest)
    assert sorted(path.name for path in copies) == sorted(p.name for p in notebook_paths())
    for copy in copies:
        assert copy.parent == dest
        assert copy.read_bytes() == (notebook_paths()[0].parent / copy.name).read_bytes()
        assert json.loads(copy.read_text())["cells"]  # a real notebook


def test_copy_refuses_to_overwrite_and_copies_nothing(tmp_path: Path) -> None:
    edited = tmp_path / "worker.ipynb"
    edited.write_text("my edits")
    with pytest.raises(FileExistsError, match=r"worker\.ipynb.*--force"):
        copy_notebooks(tmp_path)
    assert edited.read_text() == "my edits"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["worker.ipynb"]

    copies = copy_notebooks(tmp_path, overwrite=True)
    assert edited in copies and edited.read_text() != "my edits"


def test_copy_into_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        copy_notebooks(target)


def test_cli_copy_and_force(tmp_path: Path) -> None:
    dest = tmp_path / "nb"
    first = runner.invoke(app, ["notebooks", "copy", str(dest)])
    assert first.exit_code == 0, first.output
    assert f"copied {dest / 'worker.ipynb'}" in first.stdout
    assert (dest / "compare_rankings.ipynb").is_file()

    again = runner.invoke(app, ["notebooks", "copy", str(dest)])
    assert again.exit_code == 1
    assert "already holds" in again.output and "--force" in again.output

    forced = runner.invoke(app, ["notebooks", "copy", str(dest), "--force"])
    assert forced.exit_code == 0, forced.output


def test_cli_list_names_the_packaged_notebooks() -> None:
    result = runner.invoke(app, ["notebooks", "list"])
    assert result.exit_code == 0, result.output
    assert [Path(line) for line in result.stdout.split()] == notebook_paths()
