"""The wheel installs and works away from the source checkout.

Builds the wheel from the working tree, lists it (migrations, notebooks, demo data,
templates, py.typed must be inside), installs it (not editable, no dependencies) into a
fresh venv, and from an empty temporary directory with a fresh DOVOS_HOME runs what a new
user would: `dovos db migrate`, `dovos import` of the packaged demo export, `dovos worker
--until-empty`, `dovos search` and `dovos report`.

The dependencies are not downloaded again: a `.pth` file in the new venv appends this
interpreter's site-packages to its path (and its share/jupyter, where nbconvert keeps its
templates, is linked in). A `.pth` entry only adds a directory, so the editable install's
finder (itself started by a `.pth` there) is not run, and the test asserts that `dovos`
imports from the new venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "dovos"
# Files a wheel must carry besides the Python modules: (folder under dovos/, pattern).
PACKAGE_DATA = [
    ("db/alembic", "env.py"),
    ("db/alembic", "script.py.mako"),
    ("db/alembic/versions", "*.py"),
    ("notebooks", "*.ipynb"),
    ("data", "**/*.json"),
    ("data", "**/*.jsonl"),
    ("data", "**/*.trec"),
    (".", "**/templates/*"),
    (".", "**/*.j2"),
    (".", "py.typed"),
]
# Every notebook runs, on fewer queries: this checks the installed report runs, the
# notebook tests check what it finds.
REPORT_LIGHT = (
    "--no-reembed",
    "-p", "compare_rankings.max_queries=20",
    "-p", "tune_hybrid_weights.max_queries=40",
    "-p", "latency_vs_golden.max_queries=5",
    "-p", "latency_vs_golden.include_api=false",
)
STEP_TIMEOUT = 900  # seconds, per command; the report is the long one


def _expected_data_files() -> set[str]:
    """Every package-data file of the source tree, as a path inside the wheel."""
    found: set[str] = set()
    for folder, pattern in PACKAGE_DATA:
        for path in (SOURCE / folder).glob(pattern):
            skipped = {"__pycache__", ".ipynb_checkpoints"} & set(path.parts)
            if path.is_file() and not skipped:
                found.add(path.relative_to(REPO).as_posix())
    return found


def _build_wheel(out: Path) -> Path:
    """`pip wheel` of a copy of the working tree (so no build/ or egg-info lands in it)."""
    pytest.importorskip("setuptools", reason="setuptools is needed to build the wheel")
    pip = [sys.executable, "-m", "pip", "--version"]
    if subprocess.run(pip, capture_output=True, check=False).returncode:
        pytest.skip("pip is not available in this interpreter: cannot build the wheel")
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        SOURCE, source / "dovos",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "output"),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-cache-dir", "-w", str(out / "dist"), str(source)],
        capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (out / "dist").glob("dovos-*.whl")
    return wheel


def _venv_with_wheel(root: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel installed (no deps); ours visible through a `.pth`."""
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "zz_dovos_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    # Dependencies' data files (nbconvert's templates, the python3 kernelspec) live under
    # their installation prefix, share/jupyter: let the new prefix have them too.
    ours_share = Path(sys.prefix) / "share" / "jupyter"
    if ours_share.is_dir():
        (env_dir / "share").mkdir(exist_ok=True)
        (env_dir / "share" / "jupyter").symlink_to(ours_share, target_is_directory=True)
    return env_dir


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the venv it is installed in)."""
    root = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(root)
    yield wheel, _venv_with_wheel(root, wheel)


def test_the_wheel_carries_migrations_notebooks_and_data(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _expected_data_files()
    assert {"dovos/db/alembic/env.py", "dovos/notebooks/worker.ipynb", "dovos/py.typed",
            "dovos/data/demo/chatgpt/conversations.json"} <= expected  # the list is not empty
    assert any(name.startswith("dovos/db/alembic/versions/0001") for name in expected)
    assert expected - names == set(), f"missing from the wheel: {sorted(expected - names)}"
    assert "dovos/resources.py" in names and "dovos/cli.py" in names
    assert not any(name.startswith(("tests/", "eval/")) for name in names)


def _runner(env_dir: Path, work: Path, home: Path):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
    env.update(DOVOS_HOME=str(home), PATH=f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}",
               VIRTUAL_ENV=str(env_dir))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(env_dir / "bin" / "dovos"), *args], cwd=work, env=env,
            capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False,
        )
        assert done.returncode == 0, f"dovos {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    return run


def test_the_installed_wheel_works_from_an_empty_directory(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, env_dir = installed
    python = env_dir / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", ("import dovos, dovos.resources as r; "
                             "print(dovos.__file__); print(r.demo_archive_dir())")],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout.split()
    assert Path(where[0]).is_relative_to(env_dir), f"dovos imported from {where[0]}"
    demo_export = Path(where[1]) / "chatgpt" / "conversations.json"
    assert demo_export.is_relative_to(env_dir) and demo_export.is_file()

    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    dovos = _runner(env_dir, work, home)
    try:
        assert "database at revision" in dovos("db", "migrate").stdout
        dovos("import", "--no-progress", str(demo_export))
        dovos("worker", "--until-empty", "--no-progress")

        found = json.loads(dovos("search", "--json", "sourdough starter hooch").stdout)
        assert found["effective_mode"] == "hybrid", found["notes"]  # embeddings are there
        assert found["hits"][0]["conversation_title"] == "Keeping a sourdough starter alive"

        report = dovos("report", "--dataset", "demo", "--out", "reports", *REPORT_LIGHT)
        print(report.stdout)
        assert (work / "reports" / "index.html").is_file(), report.stdout
        summary = json.loads((work / "reports" / "summary.json").read_text())
        assert all(outcome["ok"] for outcome in summary["notebooks"].values())
        assert sorted(p.name for p in work.iterdir()) == ["reports"]  # nothing else written
    finally:
        subprocess.run([str(env_dir / "bin" / "dovos"), "db", "stop", "--force"], cwd=work,
                       env={**os.environ, "DOVOS_HOME": str(home)}, capture_output=True,
                       timeout=120, check=False)
