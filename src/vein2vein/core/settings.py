"""Configuration in one place: every variable is prefixed ``V2V_`` and documented in the README.

Nothing else reads the environment.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "vein2vein.db"
DEV_SECRET_PLACEHOLDER = "development-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="V2V_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    secret_key: str = DEV_SECRET_PLACEHOLDER
    session_idle_minutes: int = 15
    session_max_hours: int = 12
    lockout_threshold: int = 5
    password_min_length: int = 12
    password_history: int = 5
    argon2_profile: Literal["standard", "fast-tests"] = "standard"
    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("secret_key")
    @classmethod
    def _secret_not_placeholder_in_production(cls, v: str, info) -> str:  # type: ignore[no-untyped-def]
        env = info.data.get("environment", "development")
        if env == "production" and (v == DEV_SECRET_PLACEHOLDER or len(v) < 32):
            raise ValueError(
                "V2V_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production"
            )
        return v

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def random_secret() -> str:
    return secrets.token_urlsafe(48)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
