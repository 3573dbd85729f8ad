"""Configuration in one place: every variable is prefixed ``V2V_`` and documented in the README.

Nothing else reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "vein2vein.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="V2V_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    session_idle_minutes: int = 15
    session_max_hours: int = 12
    lockout_threshold: int = 5
    password_min_length: int = 12
    password_history: int = 5
    argon2_profile: Literal["standard", "fast-tests"] = "standard"
    host: str = "127.0.0.1"
    port: int = 8000
    #: PostgreSQL: the schema owner's URL, used by `v2v db upgrade` and `v2v db grant` only;
    #: the application itself connects with ``database_url`` as a role that owns nothing
    migration_database_url: str | None = None
    #: PostgreSQL: the application's role, granted row access after every `v2v db upgrade`
    app_db_role: str | None = None
    #: largest upload (files of a clinical dataset version), in MB
    max_upload_mb: int = 256
    #: largest body of any other request (forms, JSON), in KB
    max_form_kb: int = 1024
    #: PostgreSQL connections per process: pool size and overflow (together 40, Starlette's
    #: worker threads, so that no request waits for a connection while a thread is free)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=30, ge=0, le=400)
    #: the zone pages show times in (an IANA name); UTC stays in tooltips, exports and the API
    display_time_zone: str = "Europe/Brussels"

    @model_validator(mode="after")
    def _production_guards(self) -> Settings:
        if self.environment == "production" and self.argon2_profile != "standard":
            raise ValueError(
                "V2V_ARGON2_PROFILE=fast-tests is for test suites only; "
                "production must hash passwords with the standard profile"
            )
        try:
            ZoneInfo(self.display_time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"V2V_DISPLAY_TIME_ZONE={self.display_time_zone!r} is not an IANA time zone "
                "(for example Europe/Brussels or UTC)"
            ) from exc
        return self

    @property
    def owner_database_url(self) -> str:
        """Where schema changes are made: the owner's URL when one is set."""
        return self.migration_database_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
