"""Settings: environment names, .env, and URL handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from dovos.config import Settings
from dovos.db.urls import redact, to_libpq_url, to_sqlalchemy_url


def test_database_url_and_prefixed_names_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("DOVOS_HOME", str(tmp_path))
    monkeypatch.setenv("DOVOS_EMBEDDING_MODEL", "other-model")
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@h/db"
    assert settings.home == tmp_path.resolve()
    assert settings.embedding_model == "other-model"
    assert not settings.uses_embedded_database


def test_empty_database_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    assert Settings().uses_embedded_database


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DOVOS_HOME", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / ".env").write_text("DOVOS_HOME=/tmp/from-dotenv\nDOVOS_POOL_SIZE=7\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.home == Path("/tmp/from-dotenv")
    assert settings.pool_size == 7


def test_out_of_range_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOVOS_POOL_SIZE", "0")
    with pytest.raises(ValueError, match="pool_size"):
        Settings()


def test_url_forms() -> None:
    assert to_sqlalchemy_url("postgres://a@b/c") == "postgresql+psycopg://a@b/c"
    assert to_libpq_url("postgresql+psycopg://a@b/c") == "postgresql://a@b/c"
    assert redact("postgresql://user:secret@host/db") == "postgresql://user:***@host/db"
