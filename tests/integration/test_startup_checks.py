"""What a web process checks of its database at start."""

from __future__ import annotations

import logging

from sqlalchemy import text

from opsknight import db, lifespan


def test_a_warning_names_autovacuum_exactly_when_postgresql_runs_without_it(pg, caplog):
    with db.engine().connect() as conn:
        setting = conn.execute(text("SHOW autovacuum")).scalar_one()
    with caplog.at_level(logging.WARNING, logger="opsknight"):
        lifespan.warn_if_autovacuum_is_off()
    warned = [r.getMessage() for r in caplog.records if "autovacuum" in r.getMessage()]
    assert (len(warned) == 1) == (setting != "on"), (setting, warned)


def test_sqlite_has_nothing_to_warn_about(sqlite, caplog):
    with caplog.at_level(logging.WARNING, logger="opsknight"):
        lifespan.warn_if_autovacuum_is_off()
    assert not [r for r in caplog.records if "autovacuum" in r.getMessage()]
