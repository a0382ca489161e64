"""Rules the database itself enforces, on a migrated schema (not create_all), so the migration is what is tested.

Each backend is migrated once per module; every test makes its own rows (unique names), so tests do not see each
other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.dbutil import fresh_pg_database
from sqlalchemy import Engine, func, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, select

from opsknight import migrate
from opsknight.db import make_engine
from opsknight.models import (
    Alert,
    AlertAction,
    Delivery,
    Incident,
    IncidentStatus,
    Role,
    Service,
    TimelineEvent,
    TimelineKind,
    User,
)

T0 = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    with fresh_pg_database("okmod") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('models') / 'opsknight.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)  # PRAGMA foreign_keys=ON, as in the app
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_engine")


# -- factories --------------------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_user(session: Session, **fields) -> User:
    user = User(**{"email": f"{unique('user')}@example.com", "name": "Ada", **fields})
    session.add(user)
    session.flush()
    return user


def make_service(session: Session, **fields) -> Service:
    service = Service(**{"name": unique("svc"), **fields})
    session.add(service)
    session.flush()
    return service


def next_incident_number(session: Session) -> int:
    """As documented on Incident: max + 1 inside the transaction (a race fails on uq_incidents_number)."""
    return session.exec(select(func.coalesce(func.max(Incident.number), 0) + 1)).one()


def make_incident(session: Session, service: Service, **fields) -> Incident:
    incident = Incident(
        **{
            "number": next_incident_number(session),
            "title": "CPU on fire",
            "dedup_key": "cpu",
            "service_id": service.id,
            "created_at": T0,
            **fields,
        }
    )
    session.add(incident)
    session.flush()
    return incident


def make_delivery(session: Session, incident: Incident, **fields) -> Delivery:
    delivery = Delivery(
        **{
            "incident_id": incident.id,
            "channel": "sms",
            "target": "+15555550100",
            "idempotency_key": unique("inc:gen0:step0:user1:sms"),
            **fields,
        }
    )
    session.add(delivery)
    session.flush()
    return delivery


# -- incident dedup ---------------------------------------------------------------------------------------------


def test_second_open_incident_with_same_dedup_key_is_refused(engine: Engine) -> None:
    with Session(engine) as session:
        service = make_service(session)
        make_incident(session, service, dedup_key="disk-full")

        with pytest.raises(IntegrityError, match="uq_incidents_open_dedup|UNIQUE"):
            make_incident(session, service, dedup_key="disk-full", status=IncidentStatus.ACKNOWLEDGED)


def test_resolving_an_incident_frees_its_dedup_key(engine: Engine) -> None:
    with Session(engine) as session:
        service = make_service(session)
        first = make_incident(session, service, dedup_key="disk-full")
        first.status = IncidentStatus.RESOLVED
        first.resolved_at = T0 + timedelta(minutes=5)
        session.flush()

        second = make_incident(session, service, dedup_key="disk-full")

        assert second.id != first.id


def test_same_dedup_key_on_another_service_is_a_different_incident(pg_engine: Engine) -> None:
    with Session(pg_engine) as session:
        make_incident(session, make_service(session), dedup_key="disk-full")

        make_incident(session, make_service(session), dedup_key="disk-full")


# -- CHECK and UNIQUE constraints -------------------------------------------------------------------------------


def test_unknown_user_role_is_refused(pg_engine: Engine) -> None:
    with Session(pg_engine) as session, pytest.raises(IntegrityError, match="ck_users_role"):
        make_user(session, role="superuser")


def test_unknown_incident_status_is_refused(pg_engine: Engine) -> None:
    with Session(pg_engine) as session, pytest.raises(IntegrityError, match="ck_incidents_status"):
        make_incident(session, make_service(session), status="closed")


def test_mixed_case_email_is_refused(pg_engine: Engine) -> None:
    with Session(pg_engine) as session, pytest.raises(IntegrityError, match="ck_users_email_lower"):
        make_user(session, email=f"{unique('Ada')}@Example.com")


def test_enum_members_are_stored_as_their_values(pg_engine: Engine) -> None:
    with Session(pg_engine) as session:
        user = make_user(session, role=Role.ADMIN)

        stored = session.execute(text("SELECT role FROM users WHERE id = :id"), {"id": user.id}).scalar_one()

        assert stored == "admin"


def test_delivery_idempotency_key_is_unique(pg_engine: Engine) -> None:
    with Session(pg_engine) as session:
        incident = make_incident(session, make_service(session))
        make_delivery(session, incident, idempotency_key="inc7:gen0:step0:user3:sms")

        with pytest.raises(IntegrityError, match="uq_deliveries_idempotency_key"):
            make_delivery(session, incident, idempotency_key="inc7:gen0:step0:user3:sms")


# -- timestamps and JSON ----------------------------------------------------------------------------------------


def test_naive_datetime_is_refused(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session, pytest.raises(StatementError) as failure:
        make_incident(session, make_service(session), created_at=datetime(2025, 1, 1, 9, 0))

    assert isinstance(failure.value.orig, ValueError)


def test_datetimes_come_back_aware_in_utc(engine: Engine) -> None:
    paris_summer = timezone(timedelta(hours=2))
    with Session(engine) as session:
        incident_id = make_incident(
            session, make_service(session), created_at=datetime(2025, 7, 1, 11, 0, tzinfo=paris_summer)
        ).id
        session.commit()

    with Session(engine) as session:
        created_at = session.get(Incident, incident_id).created_at

    assert created_at == datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
    assert created_at.utcoffset() == timedelta(0)


def test_json_none_is_stored_as_sql_null(engine: Engine) -> None:
    with Session(engine) as session:
        incident = make_incident(session, make_service(session))
        alert = Alert(
            incident_id=incident.id,
            source="generic",
            action=AlertAction.TRIGGER,
            dedup_key="cpu",
            summary="CPU on fire",
            raw=None,
            received_at=T0,
        )
        session.add(alert)
        session.flush()

        raw_is_null = session.execute(text("SELECT raw IS NULL FROM alerts WHERE id = :id"), {"id": alert.id})

        assert raw_is_null.scalar_one() in (True, 1)


# -- cascades ---------------------------------------------------------------------------------------------------


def test_deleting_an_incident_deletes_its_alerts_and_timeline(engine: Engine) -> None:
    with Session(engine) as session:
        incident = make_incident(session, make_service(session))
        session.add(
            Alert(
                incident_id=incident.id,
                source="prometheus",
                action=AlertAction.TRIGGER,
                dedup_key="cpu",
                summary="CPU on fire",
                payload={"severity": "critical"},
                received_at=T0,
            )
        )
        session.add(TimelineEvent(incident_id=incident.id, kind=TimelineKind.TRIGGERED, at=T0, message="Triggered"))
        session.commit()

        session.delete(incident)
        session.commit()

        assert session.exec(select(Alert).where(Alert.incident_id == incident.id)).all() == []
        assert session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)).all() == []


# -- naming -----------------------------------------------------------------------------------------------------


def test_constraint_and_index_names_fit_postgresql_limit() -> None:
    """PostgreSQL silently truncates identifiers past 63 bytes, which would break name-based migrations."""
    names = [
        item.name
        for table in SQLModel.metadata.tables.values()
        for item in (*table.constraints, *table.indexes)
    ]

    assert all(name and len(name) <= 63 for name in names), [n for n in names if not n or len(n) > 63]
