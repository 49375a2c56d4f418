"""Key -> JSON settings stored in the database (tuned search parameters, heartbeats)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from dovos.db.models import Setting


class SettingsRepository:
    """Reads and writes the `settings` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str, default: Any = None) -> Any:
        value = self.session.scalar(select(Setting.value).where(Setting.key == key))
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        statement = insert(Setting).values(key=key, value=value)
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Setting.key], set_={"value": statement.excluded.value}
            )
        )

    def delete(self, key: str) -> bool:
        return bool(self.session.execute(delete(Setting).where(Setting.key == key)).rowcount)

    def with_prefix(self, prefix: str) -> dict[str, Any]:
        """All settings whose key starts with `prefix` (e.g. every worker heartbeat)."""
        rows = self.session.execute(
            select(Setting.key, Setting.value).where(Setting.key.startswith(prefix, autoescape=True))
        ).all()
        return {key: value for key, value in rows}
