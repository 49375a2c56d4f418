"""Run the Alembic migrations programmatically (`dovos db migrate` and `Database.open`).

Who may change the schema without being asked: Dovos migrates its own embedded server on
first use, but never runs DDL on a server named by DATABASE_URL (someone else's) unless
the user asks with `dovos db migrate`; `ensure_current` says which.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from dovos.resources import alembic_dir


class SchemaOutOfDateError(RuntimeError):
    """The database's schema is not the one this Dovos expects, and may not be migrated
    without being asked (an external DATABASE_URL)."""


def _script_config() -> Config:
    """An Alembic config on the packaged migrations (no alembic.ini needed: the wheel
    has none, and the checkout's only serves the `alembic` command line)."""
    config = Config()
    config.set_main_option("script_location", str(alembic_dir()))
    return config


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to `engine` (so no second engine or URL is needed)."""
    config = _script_config()
    config.attributes["engine"] = engine
    return config


def _run(engine: Engine, action: str, revision: str) -> None:
    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest)."""
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Take the schema down to `revision` (default: nothing)."""
    _run(engine, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(_script_config()).get_current_head()


def ensure_current(engine: Engine, *, may_migrate: bool, where: str) -> str | None:
    """Bring the schema to head when `may_migrate` (the embedded server); otherwise refuse
    to run DDL and raise SchemaOutOfDateError naming `dovos db migrate`.

    `where` names the database in the message (a redacted URL). Returns the revision the
    database is at afterwards.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return current
    known = _known_revisions()
    if current is not None and current not in known:
        raise SchemaOutOfDateError(
            f"the database at {where} is at schema revision {current}, which this version of "
            f"Dovos does not know (its newest is {head}): upgrade Dovos, or point "
            "DATABASE_URL at another database."
        )
    if may_migrate:
        upgrade(engine)
        return head
    state = "has no Dovos schema yet" if current is None else f"is at schema revision {current}"
    raise SchemaOutOfDateError(
        f"the database at {where} {state}; this version of Dovos needs revision {head}. "
        "Dovos does not change the schema of a server named by DATABASE_URL unless asked: "
        "run `dovos db migrate` (alembic upgrade head), then try again."
    )


def _known_revisions() -> set[str]:
    """Every revision id among the packaged migrations."""
    script = ScriptDirectory.from_config(_script_config())
    return {revision.revision for revision in script.walk_revisions()}
