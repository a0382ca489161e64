"""Paging scenarios on PostgreSQL + Redis + a real RQ worker, with the real SDKs talking to local fakes that
fail the test on any message it did not expect. Time moves with the injectable clock, not sleep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import SimpleWorker

from opsknight import accounts, broker
from opsknight.config import reset_settings
from opsknight.engine import clock, jobs, reconciler
from opsknight.models import ContactMethod, Delivery, Incident, NotificationRule, OutboxJob, TimelineEvent
from tests.factories import make_integration, make_policy, make_service
from tests.fakes.smtp import SmtpFake
from tests.fakes.twilio import TwilioFake
from tests.integration.conftest import rows


@pytest.fixture
def twilio(pg, monkeypatch):
    with TwilioFake() as fake:
        monkeypatch.setenv("OPSKNIGHT_TWILIO_ACCOUNT_SID", fake.account_sid)
        monkeypatch.setenv("OPSKNIGHT_TWILIO_AUTH_TOKEN", fake.auth_token)
        monkeypatch.setenv("OPSKNIGHT_TWILIO_FROM_NUMBER", "+15005550006")
        monkeypatch.setenv("OPSKNIGHT_TWILIO_API_URL", fake.url)
        monkeypatch.setenv("OPSKNIGHT_BASE_URL", "http://testserver")
        reset_settings()
        jobs.channel_registry.cache_clear()
        yield fake
        jobs.channel_registry.cache_clear()
        fake.assert_no_unexpected()


def drain() -> None:
    """Run every queued job (and what they queue) on a real RQ worker, then stop."""
    SimpleWorker(broker.queues(), connection=broker.redis_conn()).work(burst=True)


def tick(delta: timedelta) -> None:
    """Move time on and let the reconciler fire whatever became due, as the scheduler would."""
    clock.advance(delta)
    reconciler.reconcile()
    drain()


def person(session, name: str, phone: str, *, rules=((0, "high"),)) -> int:
    user = accounts.create_user(session, email=f"{name.lower()}@example.com", name=name, password="pw-long-enough")
    contact = ContactMethod(user_id=user.id, kind="sms", address=phone, verified=True)
    session.add(contact)
    session.flush()
    for delay, urgency in rules:
        session.add(NotificationRule(user_id=user.id, contact_method_id=contact.id, urgency=urgency,
                                     delay_minutes=delay))
    session.commit()
    return user.id


@pytest.fixture
def two_step(session, twilio):
    """Ann (step 1, 5 minutes), then Bob (step 2); a generic integration on the service."""
    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001")
    bob = person(session, "Bob", "+15551230002")
    policy = make_policy(session, steps=[[("user", ann)], [("user", bob)]])
    token, _ = make_integration(session, make_service(session, policy=policy), "generic")
    return token, ann, bob


def trigger(client, token, summary="Checkout is down", **extra):
    response = client.post("/api/webhooks/generic", json={"summary": summary, "severity": "critical", **extra},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202
    drain()
    return response.json()["incidents"][0]["incident_number"]


def sms_reply(client, twilio, sender: str, body: str):
    url, params = "http://testserver/api/twilio/inbound", {"From": sender, "To": "+15005550006", "Body": body}
    return client.post("/api/twilio/inbound", data=params, headers={"X-Twilio-Signature": twilio.signature(url, params)})


def test_sms_to_ann_then_bob_then_ack_by_sms_reply_then_nothing_more(client, twilio, two_step):
    token, ann, bob = two_step
    number = trigger(client, token)
    [first] = twilio.expect(1)
    assert first.form["To"] == "+15551230001" and f"#{number}" in first.form["Body"]
    assert twilio.take() == []

    tick(timedelta(minutes=4))
    assert twilio.take() == []  # still inside step 1's five minutes
    tick(timedelta(minutes=1, seconds=5))
    [second] = twilio.expect(1)
    assert second.form["To"] == "+15551230002"

    reply = sms_reply(client, twilio, "+15551230002", f"ack {number}")
    assert reply.status_code == 200 and f"Incident #{number} acknowledged" in reply.text
    (incident,) = rows(Incident)
    assert incident.status == "acknowledged" and incident.acknowledged_by_id == bob
    assert incident.acknowledged_via == "sms"

    tick(timedelta(minutes=30))
    assert twilio.take() == []  # nothing more, ever
    kinds = [e.kind for e in rows(TimelineEvent, order_by=TimelineEvent.id)]
    assert kinds.count("notified") >= 4 and "escalated" in kinds and kinds[-1] == "acknowledged"


def test_a_job_that_runs_twice_pages_once(client, twilio, two_step):
    token, _, _ = two_step
    trigger(client, token)
    twilio.expect(1)
    (delivery,) = rows(Delivery)
    assert jobs.send_delivery(delivery.id) == "already-sent"
    (outbox_id,) = [o.id for o in rows(OutboxJob)]
    assert jobs.process_outbox(outbox_id) == "already-done"
    drain()
    assert twilio.take() == [] and len(rows(Delivery)) == 1


def test_unsigned_or_unknown_replies_change_nothing(client, twilio, two_step):
    token, _, _ = two_step
    number = trigger(client, token)
    twilio.expect(1)
    forged = client.post("/api/twilio/inbound", data={"From": "+15551230001", "Body": f"ack {number}"},
                         headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403
    stranger = sms_reply(client, twilio, "+15559999999", f"ack {number}")
    assert "not linked" in stranger.text
    nonsense = sms_reply(client, twilio, "+15551230001", "hello?")
    assert "Reply 'ack &lt;number&gt;'" in nonsense.text  # TwiML: XML-escaped
    assert rows(Incident)[0].status == "triggered"


def test_resolve_by_sms_and_ack_after_resolve_is_harmless(client, twilio, two_step):
    token, _, _ = two_step
    number = trigger(client, token)
    twilio.expect(1)
    assert "resolved" in sms_reply(client, twilio, "+15551230001", f"resolve {number}").text
    assert rows(Incident)[0].status == "resolved"
    sms_reply(client, twilio, "+15551230001", f"ack {number}")
    assert rows(Incident)[0].status == "resolved"
    tick(timedelta(minutes=10))
    assert twilio.take() == []


def test_provider_429_is_retried_after_retry_after(client, twilio, two_step):
    token, _, _ = two_step
    twilio.fail_next(429, 20429, "Too Many Requests", retry_after=30)
    trigger(client, token)
    twilio.expect(1)  # the refused attempt
    (delivery,) = rows(Delivery)
    assert delivery.status == "pending" and delivery.attempts == 1
    tick(timedelta(seconds=20))
    assert twilio.take() == []  # Retry-After is honoured
    tick(timedelta(seconds=15))
    [retried] = twilio.expect(1)
    assert retried.form["To"] == "+15551230001"
    assert rows(Delivery)[0].status == "sent"
    failures = rows(TimelineEvent, TimelineEvent.kind == "delivery_failed")
    assert len(failures) == 1 and "retrying" in failures[0].message


def test_permanent_error_is_recorded_and_not_retried(client, twilio, two_step):
    token, _, _ = two_step
    twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    trigger(client, token)
    twilio.expect(1)
    tick(timedelta(minutes=1))
    assert twilio.take() == []
    assert rows(Delivery)[0].status == "failed"


def test_delayed_rule_is_skipped_once_acknowledged(client, twilio, session):
    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001", rules=((0, "high"), (2, "high")))
    token, _ = make_integration(session, make_service(session, policy=make_policy(session, steps=[[("user", ann)]])),
                                "generic")
    number = trigger(client, token)
    twilio.expect(1)
    sms_reply(client, twilio, "+15551230001", f"ack {number}")
    tick(timedelta(minutes=3))
    assert twilio.take() == []  # the 2-minute SMS was not sent: acknowledged first
    statuses = sorted(d.status for d in rows(Delivery))
    assert statuses == ["sent", "suppressed"]


def test_alert_storm_is_bundled_per_phone(client, twilio, two_step):
    token, _, _ = two_step

    def storm(prefix: str, count: int) -> None:
        response = client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"},
                               json=[{"summary": f"{prefix} {i} down", "dedup_key": f"{prefix}-{i}"}
                                     for i in range(count)])
        assert response.status_code == 202
        drain()

    storm("shard", 30)
    [first] = twilio.expect(1)  # one SMS for thirty incidents
    assert "(+29 more)" in first.form["Body"]
    clock.advance(timedelta(seconds=20))
    storm("replica", 10)  # inside the pacing window: held back
    assert twilio.take() == []
    tick(timedelta(seconds=45))  # the window (60 s) and the reconciler's grace have passed
    [second] = twilio.expect(1)
    assert "(+9 more)" in second.form["Body"]
    tick(timedelta(seconds=65))
    assert twilio.take() == []
    assert sum(1 for d in rows(Delivery) if d.status == "sent") == 2
    assert all(d.status in ("sent", "suppressed") for d in rows(Delivery))


def test_snooze_pauses_then_pages_again(client, twilio, two_step):
    from opsknight.engine import actions

    token, ann, _ = two_step
    trigger(client, token)
    twilio.expect(1)
    (incident,) = rows(Incident)
    actions.perform(actions.snooze, incident.id, user_id=ann, until=clock.now() + timedelta(minutes=30), via="web")
    tick(timedelta(minutes=20))
    assert twilio.take() == []
    tick(timedelta(minutes=11))
    [again] = twilio.expect(1)
    assert again.form["To"] == "+15551230001"
    assert rows(Incident)[0].status == "triggered"


def test_email_link_acknowledges_once(client, pg, session, monkeypatch):
    with SmtpFake() as smtp:
        monkeypatch.setenv("OPSKNIGHT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("OPSKNIGHT_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("OPSKNIGHT_SMTP_FROM", "pager@example.com")
        monkeypatch.setenv("OPSKNIGHT_SMTP_STARTTLS", "false")
        monkeypatch.setenv("OPSKNIGHT_BASE_URL", "http://testserver")
        reset_settings()
        jobs.channel_registry.cache_clear()
        clock.set_now(clock.now())
        user = accounts.create_user(session, email="eve@example.com", name="Eve", password="pw-long-enough")
        session.add(ContactMethod(user_id=user.id, kind="email", address="eve@example.com"))
        session.commit()
        token, _ = make_integration(session, make_service(session, policy=make_policy(
            session, steps=[[("user", user.id)]])), "generic")
        trigger(client, token)
        [mail] = smtp.expect(1)
        text = mail.message.get_body(("plain",)).get_content()
        link = next(word for word in text.split() if "/ack/" in word).strip("<>")
        page = link.removeprefix("http://testserver")  # /ack/<token>: the page with one button
        assert client.get(page).status_code == 200 and rows(Incident)[0].status == "triggered"  # GET asks only
        path = "/api" + page
        assert f"action='{path}'" in client.get(page).text and f"method=post" in client.get(page).text
        assert client.post(path).status_code == 200
        assert rows(Incident)[0].status == "acknowledged" and rows(Incident)[0].acknowledged_via == "email"
        assert client.post(path).status_code == 410  # single use
        forged = path[:-4] + "0000"
        assert client.post(forged, headers={"Accept": "application/json"}).status_code == 410
        jobs.channel_registry.cache_clear()
        smtp.assert_no_unexpected()



def test_schedule_and_team_targets_page_whoever_they_mean_now(client, twilio, session):
    from opsknight.models import Schedule, ScheduleLayer, ScheduleLayerMember, Team, TeamMembership

    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001")
    bob = person(session, "Bob", "+15551230002")
    cat = person(session, "Cat", "+15551230003")
    schedule = Schedule(name="primary", time_zone="Europe/Berlin")
    session.add(schedule)
    session.flush()
    layer = ScheduleLayer(schedule_id=schedule.id, rotation_start=clock.now() - timedelta(days=7, hours=1),
                          rotation_unit="week", rotation_length=1)
    session.add(layer)
    session.flush()
    session.add_all([ScheduleLayerMember(layer_id=layer.id, user_id=ann, position=0),
                     ScheduleLayerMember(layer_id=layer.id, user_id=bob, position=1)])  # week 2: Bob's turn
    team = Team(name="dbas")
    session.add(team)
    session.flush()
    session.add(TeamMembership(team_id=team.id, user_id=cat))
    session.commit()
    policy = make_policy(session, steps=[[("schedule", schedule.id)], [("team", team.id)]])
    token, _ = make_integration(session, make_service(session, policy=policy), "generic")
    trigger(client, token)
    [first] = twilio.expect(1)
    assert first.form["To"] == "+15551230002"  # Bob is on call this week
    tick(timedelta(minutes=5, seconds=5))
    [second] = twilio.expect(1)
    assert second.form["To"] == "+15551230003"  # the team's member


def test_policy_repeats_then_stops(client, twilio, session):
    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001")
    token, _ = make_integration(session, make_service(session, policy=make_policy(
        session, steps=[[("user", ann)]], repeat_count=1)), "generic")
    trigger(client, token)
    twilio.expect(1)
    tick(timedelta(minutes=5, seconds=5))
    twilio.expect(1)  # the repeat
    tick(timedelta(minutes=30))
    assert twilio.take() == []
    assert rows(Incident)[0].next_escalation_at is None  # the last step of the last repeat sets no timer


def test_escalate_now_and_reassign(client, twilio, two_step, session):
    from opsknight.engine import actions

    token, ann, bob = two_step
    cat = person(session, "Cat", "+15551230003")
    trigger(client, token)
    twilio.expect(1)
    (incident,) = rows(Incident)
    actions.perform(actions.escalate_now, incident.id, user_id=ann, via="web")
    drain()
    [escalated] = twilio.expect(1)
    assert escalated.form["To"] == "+15551230002"
    actions.perform(actions.reassign, incident.id, to_user_id=cat, user_id=bob, via="web")
    drain()
    [reassigned] = twilio.expect(1)
    assert reassigned.form["To"] == "+15551230003" and rows(Incident)[0].assignee_id == cat
    with pytest.raises(actions.ActionError):
        actions.perform(actions.reassign, incident.id, to_user_id=999_999, user_id=bob, via="web")


def test_low_urgency_notify_only_policy_does_not_escalate(client, twilio, session):
    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001", rules=((0, "any"),))
    bob = person(session, "Bob", "+15551230002", rules=((0, "any"),))
    policy = make_policy(session, steps=[[("user", ann)], [("user", bob)]])
    policy.escalate_low_urgency = False
    session.add(policy)
    session.commit()
    token, _ = make_integration(session, make_service(session, policy=policy), "generic")
    client.post("/api/webhooks/generic", json={"summary": "disk 80%", "severity": "warning"},
                headers={"Authorization": f"Bearer {token}"})
    drain()
    [only] = twilio.expect(1)
    assert only.form["To"] == "+15551230001"
    tick(timedelta(minutes=30))
    assert twilio.take() == []


def test_whatsapp_page_and_ack_by_whatsapp_reply(client, twilio, session, monkeypatch):
    monkeypatch.setenv("OPSKNIGHT_TWILIO_WHATSAPP_FROM", "+15005550007")
    jobs.channel_registry.cache_clear()
    clock.set_now(clock.now())
    user = accounts.create_user(session, email="wa@example.com", name="Wanda", password="pw-long-enough")
    session.add(ContactMethod(user_id=user.id, kind="whatsapp", address="+15551230009"))
    session.commit()
    token, _ = make_integration(session, make_service(session, policy=make_policy(
        session, steps=[[("user", user.id)]])), "generic")
    number = trigger(client, token)  # no rules: the default sends WhatsApp after a minute
    assert twilio.take() == []
    tick(timedelta(minutes=1, seconds=5))
    [message] = twilio.expect(1)
    assert message.form["To"] == "whatsapp:+15551230009" and message.form["From"] == "whatsapp:+15005550007"
    reply = sms_reply(client, twilio, "whatsapp:+15551230009", f"ACK #{number}")
    assert f"Incident #{number} acknowledged" in reply.text
    incident = rows(Incident)[0]
    assert incident.status == "acknowledged" and incident.acknowledged_via == "whatsapp"


# --- regressions from review: nothing an on-call engineer needs may get stuck ------------------------------


def test_alert_opened_in_maintenance_pages_when_it_fires_again_after(client, twilio, session):
    from opsknight.models import Service

    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001")
    service = make_service(session, policy=make_policy(session, steps=[[("user", ann)]]),
                           maintenance_until=clock.now() + timedelta(minutes=30))
    token, _ = make_integration(session, service, "generic")
    trigger(client, token, summary="disk full", dedup_key="disk")
    assert twilio.take() == []  # maintenance: recorded, nobody paged
    clock.advance(timedelta(minutes=31))
    trigger(client, token, summary="disk full", dedup_key="disk")  # still firing after maintenance ended
    [page] = twilio.expect(1)
    assert page.form["To"] == "+15551230001" and len(rows(Incident)) == 1
    assert rows(Service)[0].maintenance_until < clock.now()


def test_policy_added_later_pages_on_the_next_alert(client, twilio, session):
    from opsknight.models import Service

    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001")
    service = make_service(session)
    token, _ = make_integration(session, service, "generic")
    trigger(client, token, summary="no policy yet", dedup_key="k")
    assert twilio.take() == []
    service = session.get(Service, service.id)
    service.escalation_policy_id = make_policy(session, steps=[[("user", ann)]]).id
    session.add(service)
    session.commit()
    trigger(client, token, summary="no policy yet", dedup_key="k")
    twilio.expect(1)


def test_nobody_on_call_now_is_looked_for_again(client, twilio, session):
    from opsknight.models import Team, TeamMembership

    clock.set_now(clock.now())
    team = Team(name="night shift")
    session.add(team)
    session.commit()
    token, _ = make_integration(session, make_service(session, policy=make_policy(
        session, steps=[[("team", team.id)]])), "generic")
    trigger(client, token)
    assert twilio.take() == [] and rows(Incident)[0].next_escalation_at is not None  # not given up
    ann = person(session, "Ann", "+15551230001")
    session.add(TeamMembership(team_id=team.id, user_id=ann))
    session.commit()
    tick(timedelta(minutes=2, seconds=5))
    [page] = twilio.expect(1)
    assert page.form["To"] == "+15551230001"


def test_bundled_page_survives_its_carriers_worker_dying(client, twilio, two_step):
    from opsknight.config import settings
    from opsknight.db import session_scope
    from opsknight.engine import acks, dispatch

    token, _, _ = two_step
    client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"},
                json=[{"summary": f"shard {i}", "dedup_key": f"s{i}"} for i in range(2)])
    # Process the incidents but claim the first page by hand and "die" before sending it.
    for job_id in broker.queue("urgent").get_job_ids():
        if job_id.startswith("outbox-"):
            jobs.process_outbox(int(job_id.split("-")[1]))
    broker.redis_conn().flushdb()
    first, second = sorted(d.id for d in rows(Delivery))
    with session_scope() as db:
        claimed = dispatch.claim(db, first, clock.now(), settings().base_url, acks.links)
    assert claimed.bundled_ids == [second]
    assert {d.id: d.status for d in rows(Delivery)} == {first: "sending", second: "suppressed"}
    tick(dispatch.SEND_LEASE + timedelta(seconds=5))  # the lease runs out; the reconciler redoes the send
    [page] = twilio.expect(1)
    assert "(+1 more)" in page.form["Body"]  # the bundled page rode along again, not lost
    assert {d.id: d.status for d in rows(Delivery)} == {first: "sent", second: "suppressed"}


def test_orphaned_started_job_is_queued_again(client, twilio, two_step):
    from datetime import datetime, timezone

    from rq.job import Job, JobStatus

    token, _, _ = two_step
    client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"}, json={"summary": "x"})
    (job_id,) = broker.queue("urgent").get_job_ids()
    broker.queue("urgent").remove(job_id)
    job = Job.fetch(job_id, connection=broker.redis_conn())
    job.set_status(JobStatus.STARTED)
    job.started_at = datetime(2020, 1, 1, tzinfo=timezone.utc)  # its worker was killed long ago
    job.save()
    clock.advance(timedelta(seconds=10))
    assert reconciler.reconcile() >= 1
    drain()
    twilio.expect(1)
