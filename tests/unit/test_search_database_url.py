"""DOVOS_SEARCH_DATABASE_URL: read from the environment (blank = unset), and the handle
made from it is read-only (the server refuses writes: tested against a real replica in
tests/integration/test_search_replica.py)."""

from __future__ import annotations

import pytest

from dovos.config import Settings
from dovos.db.database import Database, open_search_database

REPLICA = "postgresql://reader@replica.example:5432/dovos"


def test_the_setting_is_read_and_blank_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOVOS_SEARCH_DATABASE_URL", REPLICA)
    assert Settings().search_database_url == REPLICA
    monkeypatch.setenv("DOVOS_SEARCH_DATABASE_URL", "")
    assert Settings().search_database_url is None


def test_the_search_handle_is_read_only_and_the_primary_is_not() -> None:
    settings = Settings(database_url="postgresql://writer@primary.example/dovos",
                        search_database_url=REPLICA)
    primary = Database("postgresql://writer@primary.example/dovos", settings)
    search = open_search_database(settings, primary=primary)  # connects lazily: no server
    assert search is not primary and search.read_only and not primary.read_only
    assert "default_transaction_read_only=on" in search._connect_args()["options"]
    assert "default_transaction_read_only" not in primary._connect_args()["options"]
    assert search.url.startswith("postgresql://reader@replica.example")
    unset = Settings(database_url="postgresql://writer@primary.example/dovos")
    assert open_search_database(unset, primary=primary) is primary
