"""A DOVOS_HOME the embedded server cannot use is one clear `error:` line, never a
traceback: a read-only file system, a full disk, a data directory of another PostgreSQL
major version (the message names the way across). The file systems are real: small tmpfs
mounts (root only; skipped elsewhere, where a read-only directory stands in)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dovos.db.embedded import EmbeddedServer
from dovos.db.preflight import DatabaseHomeError, server_major_version


def _dovos(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOVOS_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "dovos.cli", *args], capture_output=True, text=True,
        timeout=300, env=env, check=False,
    )


def _mount_tmpfs(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                          capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def mount_point(tmp_path: Path) -> Iterator[Path]:
    """A directory to mount a tmpfs on; unmounted at the end."""
    target = tmp_path / "mnt"
    yield target
    subprocess.run(["umount", str(target)], capture_output=True, check=False)


def _assert_clean_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def test_read_only_home_is_a_clear_error(mount_point: Path) -> None:
    if _mount_tmpfs(mount_point, "size=16m"):
        (mount_point / "home").mkdir()
        remount = subprocess.run(["mount", "-o", "remount,ro", str(mount_point)],
                                 capture_output=True, check=False)
        assert remount.returncode == 0, remount.stderr
        expected = "read-only file system"
    elif os.geteuid() != 0:
        (mount_point / "home").mkdir()
        mount_point.chmod(0o500)
        (mount_point / "home").chmod(0o500)
        expected = "not writable"
    else:
        pytest.skip("cannot mount a tmpfs here")
    home = mount_point / "home"

    done = _dovos(home, "db", "status")
    _assert_clean_error(done, f"DOVOS_HOME ({home})", expected, "DATABASE_URL")
    done = _dovos(home, "search", "hello")  # a command that does not catch it itself
    _assert_clean_error(done, expected)
    with pytest.raises(DatabaseHomeError, match=expected):
        EmbeddedServer(home).start()


def test_home_on_a_full_disk_is_a_clear_error(mount_point: Path) -> None:
    if not _mount_tmpfs(mount_point, "size=8m"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    home = mount_point / "home"

    done = _dovos(home, "db", "status")

    _assert_clean_error(done, "MB free", str(home), "bigger disk")
    assert not (home / "pgdata").exists()  # refused before initdb wrote half a cluster


def test_data_directory_of_another_major_version_names_the_upgrade_path(
    tmp_path: Path,
) -> None:
    ours = server_major_version()
    older = ours - 1
    pgdata = tmp_path / "home" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text(f"{older}\n")

    done = _dovos(tmp_path / "home", "db", "status")

    _assert_clean_error(done, f"PostgreSQL {older}", f"PostgreSQL {ours}",
                        "dovos db backup", "dovos db restore", "pg_upgrade")
    assert (pgdata / "PG_VERSION").read_text() == f"{older}\n"  # left untouched
    assert not (pgdata / "postmaster.pid").exists()
