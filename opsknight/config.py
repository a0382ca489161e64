"""Every OpsKnight setting, read from ``OPSKNIGHT_*`` environment variables.

`load_settings()` parses and validates the environment once; a malformed value raises `ConfigError` with a
message a person can act on (the CLI prints it without a traceback). `settings()` caches the result for the
process; tests call `reset_settings()` after changing the environment.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is missing or malformed. The message names the variable and what is wrong."""


@dataclass(frozen=True)
class Settings:
    env: str  # "development" or "production"
    database_url: str
    redis_url: str  # "" means the embedded in-process Redis (fakeredis)
    base_url: str
    secret_key: str
    data_dir: Path
    admin_email: str
    admin_password: str
    embedded_worker: bool
    max_body_bytes: int
    enqueue_rate_per_minute: int
    webhook_transactions: int
    session_days: int
    log_level: str
    status_page_title: str = "Status"
    provider_urls: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"OPSKNIGHT_{name}", default).strip()


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"OPSKNIGHT_{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"OPSKNIGHT_{name} must be at least {minimum}, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name, "").lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"OPSKNIGHT_{name} must be true or false, got {raw!r}")


def normalize_database_url(raw: str) -> str:
    """Validate a database URL and select the psycopg 3 driver for PostgreSQL."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"OPSKNIGHT_DATABASE_URL is not a valid URL: {raw!r} "
            "(expected postgresql://user@host:5432/dbname or sqlite:///path/to/file.db)"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        if url.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
            url = url.set(drivername="postgresql+psycopg")
        if not url.database:
            raise ConfigError("OPSKNIGHT_DATABASE_URL names no database (add /dbname at the end)")
    elif backend == "sqlite":
        pass
    else:
        raise ConfigError(f"OPSKNIGHT_DATABASE_URL must be PostgreSQL or SQLite, got {backend!r}")
    return url.render_as_string(hide_password=False)


def _redis_url(raw: str) -> str:
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"OPSKNIGHT_REDIS_URL must start with redis://, rediss:// or unix://, got {raw!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"OPSKNIGHT_REDIS_URL names no host: {raw!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError(f"OPSKNIGHT_REDIS_URL has a malformed port: {raw!r}") from None
    return raw


def _base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"OPSKNIGHT_BASE_URL must be an http(s) URL like https://oncall.example.com, got {raw!r}")
    return raw.rstrip("/")


def _secret_key(env: str, data_dir: Path) -> str:
    key = _env("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ConfigError("OPSKNIGHT_SECRET_KEY must be at least 32 characters")
        return key
    if env == "production":
        raise ConfigError(
            "OPSKNIGHT_SECRET_KEY is required in production; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    # Development: a random key kept in the data folder so sessions survive restarts.
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


PROVIDER_URL_DEFAULTS = {
    "SLACK_API_URL": "https://slack.com/api/",
    "TWILIO_API_URL": "https://api.twilio.com",
}


def load_settings() -> Settings:
    env = _env("ENV", "development").lower()
    if env not in {"development", "production"}:
        raise ConfigError(f"OPSKNIGHT_ENV must be development or production, got {env!r}")
    data_dir = Path(_env("DATA_DIR", str(PROJECT_ROOT / ".data"))).resolve()
    db_raw = _env("DATABASE_URL")
    if not db_raw:
        if env == "production":
            raise ConfigError("OPSKNIGHT_DATABASE_URL is required in production (a PostgreSQL URL)")
        data_dir.mkdir(parents=True, exist_ok=True)
        db_raw = f"sqlite:///{data_dir / 'opsknight.db'}"
    redis_url = _redis_url(_env("REDIS_URL"))
    if env == "production" and not redis_url:
        raise ConfigError("OPSKNIGHT_REDIS_URL is required in production (redis://host:6379/0)")
    admin_email = _env("ADMIN_EMAIL")
    admin_password = os.environ.get("OPSKNIGHT_ADMIN_PASSWORD", "")
    if bool(admin_email) != bool(admin_password):
        raise ConfigError("Set both OPSKNIGHT_ADMIN_EMAIL and OPSKNIGHT_ADMIN_PASSWORD, or neither")
    if admin_password and len(admin_password) < 8:
        raise ConfigError("OPSKNIGHT_ADMIN_PASSWORD must be at least 8 characters")
    return Settings(
        env=env,
        database_url=normalize_database_url(db_raw),
        redis_url=redis_url,
        base_url=_base_url(_env("BASE_URL", "http://localhost:3000")),
        secret_key=_secret_key(env, data_dir),
        data_dir=data_dir,
        admin_email=admin_email.lower(),
        admin_password=admin_password,
        embedded_worker=_bool("EMBEDDED_WORKER", default=not redis_url),
        max_body_bytes=_int("MAX_BODY_BYTES", 512 * 1024, minimum=1024),
        enqueue_rate_per_minute=_int("ENQUEUE_RATE_PER_MINUTE", 6000, minimum=1),
        webhook_transactions=_int("WEBHOOK_TRANSACTIONS", 1, minimum=1),
        session_days=_int("SESSION_DAYS", 14, minimum=1),
        log_level=_env("LOG_LEVEL", "INFO").upper(),
        status_page_title=_env("STATUS_PAGE_TITLE", "Status")[:100],
        provider_urls={k: _env(k, v) for k, v in PROVIDER_URL_DEFAULTS.items()},
    )


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    settings.cache_clear()
