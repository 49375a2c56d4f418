"""Run the Alembic migrations programmatically (`dovos db migrate` and `Database.open`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from dovos.resources import alembic_dir


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
