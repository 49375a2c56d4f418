"""Settings from the environment and `.env`, as one typed object.

Every part of Dovos (CLI, API, worker, notebooks) reads its configuration through
`get_settings()`, so a value set in the environment or in `.env` means the same thing
everywhere. Names are `DOVOS_<FIELD>`, except `DATABASE_URL`, which keeps its
conventional name.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


class Settings(BaseSettings):
    """Dovos configuration; see the README's "Configuration" table for each field."""

    model_config = SettingsConfigDict(
        env_prefix="DOVOS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "DOVOS_DATABASE_URL"),
        description="PostgreSQL >= 15 with pgvector and pg_trgm; unset = embedded server.",
    )
    search_database_url: str | None = Field(
        default=None,
        description="Read-only PostgreSQL for searches (a streaming replica of "
        "DATABASE_URL); unset = searches read the primary. Writes never go there.",
    )
    home: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("dovos")),
        description="Directory Dovos owns: embedded database, caches, reports.",
    )
    database_name: str = Field(default="dovos", description="Database in the embedded server.")
    embedding_model: str = Field(default=DEFAULT_MODEL, description="Sentence-transformers model.")
    embedding_device: str = Field(default="cpu", description="torch device for encoding.")
    embedding_precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="fp32",
        description="Model precision: auto = fp16 on CUDA, bf16 on a CPU with "
        "AVX512-BF16/AMX, else fp32; "
        "non-fp32 vectors are stored as '<model>@<precision>'.",
    )
    embedding_models: str = Field(
        default="",
        description="More models the worker embeds with besides embedding_model "
        "(comma-separated storage names, e.g. 'all-MiniLM-L6-v2@bf16'); each has its own "
        "HNSW index, search picks one per call.",
    )
    pool_size: int = Field(default=5, ge=1, le=100)
    max_overflow: int = Field(default=10, ge=0, le=100)
    api_token: str | None = Field(default=None, description="Bearer token for the API.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed CORS origins.")

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("database_url", "search_database_url", "api_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @property
    def uses_embedded_database(self) -> bool:
        """True when no external server is configured and Dovos runs its own."""
        return self.database_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (call `get_settings.cache_clear()` to re-read)."""
    return Settings()


def shared_dir() -> Path:
    """The read-only `shared` folder (datasets, export fixtures, the API contract): next
    to the source checkout, or where $DOVOS_SHARED_DIR says. Only tests and benchmarks
    read it, and they skip what it lacks."""
    checkout = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("DOVOS_SHARED_DIR", checkout.parent / "shared"))
