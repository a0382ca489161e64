"""Configuration parsing: defaults, accepted forms, and clear errors for malformed values."""

from __future__ import annotations

import pytest

from opsknight.config import ConfigError, load_settings


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in ["DATABASE_URL", "REDIS_URL", "BASE_URL", "SECRET_KEY", "ENV", "ADMIN_EMAIL", "ADMIN_PASSWORD",
                 "EMBEDDED_WORKER", "MAX_BODY_BYTES"]:
        monkeypatch.delenv(f"OPSKNIGHT_{name}", raising=False)
    monkeypatch.setenv("OPSKNIGHT_DATA_DIR", str(tmp_path))

    def set_(**values):
        for key, value in values.items():
            monkeypatch.setenv(f"OPSKNIGHT_{key.upper()}", value)
        return load_settings()

    return set_


def test_defaults_are_the_embedded_product(env, tmp_path):
    s = env()
    assert s.database_url == f"sqlite:///{tmp_path / 'opsknight.db'}"
    assert s.embedded_redis and s.embedded_worker
    assert s.base_url == "http://localhost:3000"
    assert s.max_body_bytes == 512 * 1024
    assert len(s.secret_key) >= 32
    assert env().secret_key == s.secret_key  # kept in the data folder across restarts


def test_postgres_url_gets_the_psycopg3_driver(env):
    s = env(database_url="postgresql://ok:pw@db.example:5432/opsknight", redis_url="redis://cache:6379/0")
    assert s.database_url == "postgresql+psycopg://ok:pw@db.example:5432/opsknight"
    assert not s.embedded_redis and not s.embedded_worker


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"database_url": "not a url"}, "OPSKNIGHT_DATABASE_URL is not a valid URL"),
        ({"database_url": "mysql://u@h/db"}, "must be PostgreSQL or SQLite"),
        ({"database_url": "postgresql://u@h:5432"}, "names no database"),
        ({"redis_url": "http://cache:6379"}, "OPSKNIGHT_REDIS_URL must start with redis://"),
        ({"redis_url": "redis://cache:notaport/0"}, "malformed port"),
        ({"base_url": "localhost:3000"}, r"OPSKNIGHT_BASE_URL must be an http\(s\) URL"),
        ({"max_body_bytes": "lots"}, "OPSKNIGHT_MAX_BODY_BYTES must be a whole number"),
        ({"embedded_worker": "perhaps"}, "OPSKNIGHT_EMBEDDED_WORKER must be true or false"),
        ({"admin_email": "a@example.com"}, "Set both OPSKNIGHT_ADMIN_EMAIL and OPSKNIGHT_ADMIN_PASSWORD"),
        ({"admin_email": "a@example.com", "admin_password": "short"}, "at least 8 characters"),
        ({"secret_key": "too-short"}, "at least 32 characters"),
        ({"env": "staging"}, "OPSKNIGHT_ENV must be development or production"),
    ],
)
def test_malformed_settings_raise_a_clear_error(env, values, message):
    with pytest.raises(ConfigError, match=message):
        env(**values)


def test_production_requires_database_redis_and_secret(env):
    with pytest.raises(ConfigError, match="OPSKNIGHT_SECRET_KEY is required in production"):
        env(env="production", database_url="postgresql://u@h/db", redis_url="redis://h:6379/0")
    with pytest.raises(ConfigError, match="OPSKNIGHT_DATABASE_URL is required in production"):
        env(env="production", secret_key="x" * 40, database_url="")
    with pytest.raises(ConfigError, match="OPSKNIGHT_REDIS_URL is required in production"):
        env(env="production", secret_key="x" * 40, database_url="postgresql://u@h/db", redis_url="")


def test_https_base_url_turns_on_secure_cookies(env):
    assert env(base_url="https://oncall.example.com/").secure_cookies
    assert env(base_url="https://oncall.example.com/").base_url == "https://oncall.example.com"
