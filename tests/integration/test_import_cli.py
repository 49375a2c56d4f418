"""`dovos import`: exit status, per-file summary, --json output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from dovos.cli import app

runner = CliRunner()


def _invoke(*args: str) -> Any:
    return runner.invoke(app, ["import", "--no-progress", *map(str, args)])


def _count(database: Any, table: str) -> int:
    with database.connect() as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_import_prints_a_summary_per_file(database: Any, exports_dir: Path) -> None:
    result = _invoke(exports_dir / "claude" / "minimal.json")
    assert result.exit_code == 0, result.output
    assert "ok      " in result.stdout and "minimal.json  (claude" in result.stdout
    assert "conversations  1 new, 0 updated, 0 unchanged" in result.stdout
    assert "messages       4 added, 0 changed" in result.stdout
    assert "jobs           4 enqueued" in result.stdout
    assert _count(database, "messages") == 4


def test_json_output_and_reimport(database: Any, exports_dir: Path) -> None:
    first = _invoke("--json", exports_dir / "openwebui")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["ok"] is True and report["interrupted"] is False
    assert report["totals"]["files"] == 3 and report["totals"]["messages_added"] == 18
    assert {entry["format"] for entry in report["files"]} == {"openwebui"}
    again = json.loads(_invoke("--json", exports_dir / "openwebui").stdout)
    assert again["totals"]["conversations_unchanged"] == 9
    assert again["totals"]["messages_added"] == again["totals"]["jobs_enqueued"] == 0


def test_a_failed_file_makes_the_exit_status_non_zero(
    database: Any, exports_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("")
    result = _invoke("--json", exports_dir / "chatgpt" / "minimal.json", empty,
                     exports_dir / "invalid" / "truncated_chatgpt.json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["totals"]["files_failed"] == 2
    by_name = {Path(entry["path"]).name: entry for entry in report["files"]}
    assert by_name["minimal.json"]["ok"] and by_name["minimal.json"]["messages_added"] == 2
    assert by_name["empty.json"]["error"] == f"{empty}: is empty"
    assert "truncated" in by_name["truncated_chatgpt.json"]["error"]
    assert _count(database, "conversations") == 1  # only the good file


def test_failed_file_is_named_in_the_human_summary(database: Any, tmp_path: Path) -> None:
    unknown = tmp_path / "notes.json"
    unknown.write_text('{"notes": []}')
    result = _invoke(unknown)
    assert result.exit_code == 1
    assert f"FAILED  {unknown}" in result.stdout and "unknown format" in result.stdout


def test_forced_format_and_bad_format_option(database: Any, exports_dir: Path) -> None:
    forced = _invoke("--format", "chatgpt", exports_dir / "claude" / "minimal.json")
    assert forced.exit_code == 1 and "field 'mapping': is missing" in forced.stdout
    bad = _invoke("--format", "gemini", exports_dir / "claude" / "minimal.json")
    assert bad.exit_code == 2 and "--format 'gemini' is not one of" in bad.stderr
    assert _count(database, "conversations") == 0


def test_the_installed_command_runs(database: Any, exports_dir: Path) -> None:
    """The console script, in a process of its own, reaching the session's database."""
    command = [str(Path(sys.executable).parent / "dovos"), "import", "--json",
               str(exports_dir / "chatgpt" / "regenerated_branches.json")]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(),
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["messages_added"] == 6
    assert _count(database, "jobs") == 6
