"""Agent console API: sessions, roles, CSRF, rate limit, queue, claim race, reply, hand back, close, timeout, audit."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.test_handoff_support import (PASSWORD, FakeCRM, RasaAgentStub, attach, client, console_server, login,
                             seed_conversation)


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", f"sqlite:///{tmp_path / 'handoff.db'}")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_HOURS", "always")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "")
    crm = FakeCRM()
    import bot.crm.factory

    monkeypatch.setattr(bot.crm.factory, "get_crm", lambda *a, **k: crm)
    from bot.handoff import service

    for login_name, role in (("alice", "agent"), ("bob", "agent"), ("root", "admin"), ("ana", "analyst")):
        service.create_agent(login_name, PASSWORD, role, login_name.title())
    yield crm


@pytest.fixture
def server():
    with console_server() as srv:
        attach(srv)
        yield srv


def queue_one(conversation_id="web:sess_aaaaaaaaaaaaaaaa", language="fa", stage="retention", customer_id=None):
    from bot.handoff import service

    return service.request_handoff(conversation_id, channel=conversation_id.split(":")[0].replace("tg", "telegram"),
                                   language=language, journey_stage=stage, reason="requested",
                                   customer_id=customer_id, summary="<img src=x onerror=alert(1)>")


# ----------------------------------------------------------------------------- accounts
def test_cli_creates_agent_with_hashed_password(monkeypatch):
    from bot.cli import main
    from bot.db import session_scope
    from bot.handoff.models import Agent

    monkeypatch.setenv("NEW_PW", "another long secret")
    assert main(["agents", "add", "carol", "--role", "agent", "--name", "Carol", "--password-env", "NEW_PW"]) == 0
    with session_scope() as session:
        stored = session.query(Agent).filter_by(login="carol").one().password_hash
    assert stored.startswith("scrypt$") and "another long secret" not in stored
    assert main(["agents", "add", "carol", "--password-env", "NEW_PW"]) == 1  # exists


def test_login_session_logout(server):
    anonymous = client(server)
    assert anonymous.get("api/me").status_code == 401
    assert anonymous.post("api/login", json={"login": "alice", "password": "wrong password!"}).status_code == 401
    reply = anonymous.post("api/login", json={"login": "alice", "password": PASSWORD})
    assert reply.status_code == 200
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert anonymous.get("api/me").json()["agent"]["login"] == "alice"
    anonymous.headers["X-CSRF-Token"] = reply.json()["csrf"]
    assert anonymous.post("api/logout", json={}).status_code == 200
    assert anonymous.get("api/me").status_code == 401


def test_login_rate_limited(server):
    c = client(server)
    for _ in range(5):
        assert c.post("api/login", json={"login": "bob", "password": "nope nope nope"}).status_code == 401
    assert c.post("api/login", json={"login": "bob", "password": PASSWORD}).status_code == 429


def test_every_endpoint_needs_a_session(server):
    queue_one()
    anonymous = client(server)
    for method, path in [("GET", "api/queue"), ("GET", "api/handoffs/1"), ("GET", "api/handoffs/1/customer"),
                         ("POST", "api/handoffs/1/claim"), ("POST", "api/handoffs/1/reply"),
                         ("POST", "api/handoffs/1/notes"), ("POST", "api/handoffs/1/handback"),
                         ("POST", "api/handoffs/1/close"), ("GET", "api/canned"), ("GET", "api/report"),
                         ("GET", "api/agents"), ("POST", "api/agents"), ("GET", "api/audit")]:
        reply = anonymous.request(method, path, json={} if method == "POST" else None)
        assert reply.status_code == 401, (method, path, reply.status_code)


def test_roles(server):
    queue_one()
    analyst, agent, admin = login(server, "ana"), login(server, "alice"), login(server, "root")
    for path in ("api/queue", "api/handoffs/1", "api/handoffs/1/customer", "api/canned"):
        assert analyst.get(path).status_code == 403
    report = analyst.get("api/report").json()["report"]
    assert report["total"] == 1 and "conversation_id" not in str(report) and "sess_" not in str(report)
    assert agent.get("api/report").status_code == 403
    assert agent.get("api/agents").status_code == 403 and agent.get("api/audit").status_code == 403
    assert agent.post("api/agents", json={"login": "x", "password": "0123456789"}).status_code == 403
    created = admin.post("api/agents", json={"login": "dave", "password": "0123456789ab", "role": "analyst"})
    assert created.status_code == 200 and created.json()["agent"]["role"] == "analyst"
    assert admin.get("api/report").status_code == 200


def test_csrf_and_origin(server):
    queue_one()
    agent = login(server, "alice")
    token = agent.headers.pop("X-CSRF-Token")
    assert agent.post("api/handoffs/1/claim", json={}).status_code == 403
    agent.headers["X-CSRF-Token"] = "forged"
    assert agent.post("api/handoffs/1/claim", json={}).status_code == 403
    agent.headers["X-CSRF-Token"] = token
    assert agent.post("api/handoffs/1/claim", json={}, headers={"Origin": "http://evil.example"}).status_code == 403
    assert agent.post("api/handoffs/1/claim", json={}).status_code == 200


def test_security_headers_and_inert_customer_text(server):
    queue_one()
    page = client(server).get("console")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    script = client(server).get("static/console.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    queue = login(server, "alice").get("api/queue")
    assert queue.headers["content-type"].startswith("application/json")
    assert queue.json()["queue"][0]["summary"] == "<img src=x onerror=alert(1)>"  # data, rendered with textContent


# ----------------------------------------------------------------------------- queue and claim
def test_queue_positions_waiting_time_language_stage(server):
    first = queue_one("web:sess_aaaaaaaaaaaaaaaa", "fa", "retention")
    second = queue_one("tg:42", "en", "decision")
    assert (first.status, first.position) == ("queued", 1)
    assert (second.status, second.position) == ("queued", 2)
    again = queue_one("tg:42", "en", "decision")
    assert (again.status, again.position, again.handoff_id) == ("waiting", 2, second.handoff_id)
    items = login(server, "alice").get("api/queue").json()["queue"]
    assert [(i["position"], i["language"], i["journey_stage"], i["channel"]) for i in items] == [
        (1, "fa", "retention", "web"), (2, "en", "decision", "telegram")]
    assert all(isinstance(i["waiting_seconds"], int) for i in items)


def test_two_agents_claim_at_once_exactly_one_wins(server):
    alice, bob = login(server, "alice"), login(server, "bob")
    for round_ in range(8):
        outcome = queue_one(f"tg:{1000 + round_}")
        barrier = threading.Barrier(2)

        def claim(c):
            barrier.wait()
            return c.post(f"api/handoffs/{outcome.handoff_id}/claim", json={})

        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(claim, [alice, bob]))
        codes = sorted(r.status_code for r in replies)
        assert codes == [200, 409], [r.text for r in replies]
        loser = next(r for r in replies if r.status_code == 409).json()
        assert loser["error"] == "already_claimed" and loser["agent"] in ("alice", "bob")
    from bot.handoff import service

    assert all(h["status"] == "active" for h in service.list_queue())


def test_transcript_reply_notes_handback(server, environment):
    conversation = "web:sess_bbbbbbbbbbbbbbbb"
    server.call(seed_conversation(server.rasa_agent, conversation, [
        {"user": "سفارشم کجاست؟", "intent": "track_order", "stage": "retention", "bot": "شماره سفارش؟"},
        {"user": "<script>alert(1)</script>", "intent": "nlu_fallback", "stage": None,
         "sentiment": {"label": "negative", "score": -0.8, "frustrated": True}},
        {"slot": ("handoff_active", True)},
    ]))
    outcome = queue_one(conversation, customer_id="C100")
    alice, bob = login(server, "alice"), login(server, "bob")
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/reply", json={"text": "hi"}).status_code == 409  # not claimed
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/claim", json={}).status_code == 200
    view = alice.get(f"api/handoffs/{outcome.handoff_id}").json()
    customer = [e for e in view["events"] if e["kind"] == "customer"]
    assert customer[0]["intent"] == "track_order" and customer[0]["stage"] == "retention"
    assert customer[1]["text"] == "<script>alert(1)</script>" and customer[1]["sentiment"]["frustrated"]
    assert any(e["kind"] == "bot" and e["text"] == "شماره سفارش؟" for e in view["events"])
    assert any(e["kind"] == "agent" and "Alice" in e["text"] for e in view["events"])  # "Alice joined"
    # bob cannot read or write alice's conversation
    assert bob.get(f"api/handoffs/{outcome.handoff_id}").status_code == 403
    assert bob.post(f"api/handoffs/{outcome.handoff_id}/reply", json={"text": "x"}).status_code == 403
    # reply: delivered to the web widget and written to the tracker with agent metadata
    sent = alice.post(f"api/handoffs/{outcome.handoff_id}/reply", json={"text": "سلام، بررسی می‌کنم"})
    assert sent.status_code == 200 and sent.json()["delivered"] is True
    from bot.channels.web import history

    assert [m["text"] for m in history("sess_bbbbbbbbbbbbbbbb") if m["sender"] == "agent"][-1] == "سلام، بررسی می‌کنم"
    tracker = server.call(server.rasa_agent.tracker_store.retrieve(conversation))
    agent_events = [e for e in tracker.events if getattr(e, "metadata", None) and e.metadata.get("hamsafar_actor") == "agent"]
    assert agent_events[-1].text == "سلام، بررسی می‌کنم" and agent_events[-1].metadata["agent"] == "alice"
    # live: polling with the cursor returns only what is new
    last = view["last_index"]
    assert [e["text"] for e in alice.get(f"api/handoffs/{outcome.handoff_id}?after={last}").json()["events"]
            if e["kind"] == "agent"] == ["سلام، بررسی می‌کنم"]
    # notes, 360 panel
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/notes", json={"text": "called the courier"}).status_code == 200
    panel = alice.get(f"api/handoffs/{outcome.handoff_id}/customer").json()
    assert panel["profile"]["name"] == "سارا <b>رضایی</b>" and panel["orders"][0]["order_id"] == "100234"
    assert panel["journey"]["stage"] is None or isinstance(panel["journey"]["stage"], str)
    # hand back: the slot goes false in the tracker, the customer is told
    back = alice.post(f"api/handoffs/{outcome.handoff_id}/handback", json={})
    assert back.status_code == 200 and back.json()["handoff"]["status"] == "returned"
    tracker = server.call(server.rasa_agent.tracker_store.retrieve(conversation))
    assert tracker.get_slot("handoff_active") is False
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/handback", json={}).status_code == 409
    # audit: who did what
    actions = [(a["actor"], a["action"]) for a in login(server, "root").get("api/audit").json()["audit"]]
    for expected in [("alice", "claim"), ("alice", "view"), ("alice", "reply"), ("alice", "note"),
                     ("alice", "view_customer"), ("alice", "handback"), ("alice", "login")]:
        assert expected in actions


def test_close_needs_disposition(server):
    outcome = queue_one("tg:77")
    alice = login(server, "alice")
    alice.post(f"api/handoffs/{outcome.handoff_id}/claim", json={})
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/close", json={"disposition": "whatever"}).status_code == 400
    closed = alice.post(f"api/handoffs/{outcome.handoff_id}/close", json={"disposition": "resolved"})
    assert closed.status_code == 200 and closed.json()["handoff"]["disposition"] == "resolved"
    tracker = server.call(server.rasa_agent.tracker_store.retrieve("tg:77"))
    assert tracker.get_slot("handoff_active") is False


def test_a_handoff_id_beyond_any_row_is_not_found(server):
    alice = login(server, "alice")
    for too_big in ("9223372036854775808", "99999999999999999999999"):
        assert alice.get(f"api/handoffs/{too_big}").status_code == 404
        assert alice.post(f"api/handoffs/{too_big}/claim", json={}).status_code == 404
    assert alice.get("api/handoffs/987654").status_code == 404   # an ordinary id no handoff has


def test_canned_replies_in_both_languages(server):
    canned = login(server, "alice").get("api/canned").json()
    assert canned["canned"]["fa"] and canned["canned"]["en"] and "resolved" in canned["dispositions"]


# ----------------------------------------------------------------------------- timeouts and working hours
def test_unclaimed_handoff_times_out_with_apology_and_ticket(server, environment, monkeypatch):
    from bot.handoff import service

    monkeypatch.setenv("HAMSAFAR_HANDOFF_CLAIM_TIMEOUT", "60")
    old = service.request_handoff("web:sess_cccccccccccccccc", channel="web", language="en", reason="requested",
                                  now=service.utcnow() - dt.timedelta(seconds=120))
    fresh = queue_one("tg:5")
    expired = server.call(server.channel.expire_once())
    assert [h["id"] for h in expired] == [old.handoff_id]
    assert service.get_handoff(old.handoff_id)["status"] == "timed_out"
    assert service.get_handoff(fresh.handoff_id)["status"] == "waiting"
    assert environment.tickets[-1].subject == "Handoff not claimed in time"
    from bot.channels.web import history

    text = history("sess_cccccccccccccccc")[-1]["text"]
    assert "sorry" in text.lower() and environment.tickets[-1].reference in text
    tracker = server.call(server.rasa_agent.tracker_store.retrieve("web:sess_cccccccccccccccc"))
    assert tracker.get_slot("handoff_active") is False
    assert server.call(server.channel.expire_once()) == []  # exactly once


def test_after_hours_opens_ticket_and_says_when_back(environment):
    from bot.handoff import config, service

    hours = config.WorkingHours()  # Asia/Tehran 09-18, Friday off
    friday_noon_tehran = dt.datetime(2025, 6, 6, 8, 30)  # 12:00 in Tehran (UTC+3:30), a Friday
    outcome = service.request_handoff("tg:9", channel="telegram", language="fa", now=friday_noon_tehran, hours=hours)
    assert outcome.status == "after_hours" and outcome.ticket == environment.tickets[-1].reference
    assert (outcome.back_at.weekday(), outcome.back_at.hour) == (5, 9)  # Saturday 09:00
    assert service.open_handoff("tg:9") is None  # nobody waits for an agent
    from bot.handoff.texts import text, when_back

    message = text("after_hours", "fa", when=when_back(outcome.back_at, "fa"), ticket=outcome.ticket)
    assert "شنبه" in message and outcome.ticket in message
    thursday_evening = dt.datetime(2025, 6, 5, 15, 0)  # 18:30 Tehran
    assert not hours.is_open(thursday_evening)
    assert hours.next_opening(thursday_evening).weekday() == 5
    assert hours.is_open(dt.datetime(2025, 6, 7, 6, 0))  # Saturday 09:30 Tehran


def test_days_off_from_the_environment(monkeypatch):
    """An empty HAMSAFAR_HANDOFF_DAYS_OFF means a desk staffed every day, not "Friday off"."""
    from bot.handoff import config

    friday_3am_tehran = dt.datetime(2026, 12, 3, 23, 30)  # Friday 03:00 in Tehran
    monkeypatch.delenv("HAMSAFAR_HANDOFF_DAYS_OFF", raising=False)
    assert config.WorkingHours.from_env().days_off == (4,)
    for value, expected in (("", ()), ("none", ()), ("thu, Fri", (3, 4)), ("fri,holiday", (4,))):
        monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", value)
        assert config.WorkingHours.from_env().days_off == expected, value
    monkeypatch.setenv("HAMSAFAR_HANDOFF_HOURS", "always")
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "")
    assert config.WorkingHours.from_env().is_open(friday_3am_tehran)
    monkeypatch.setenv("HAMSAFAR_HANDOFF_DAYS_OFF", "fri")
    assert not config.WorkingHours.from_env().is_open(friday_3am_tehran)


def test_erasure_removes_handoff_data(environment):
    from bot.handoff import service
    from bot.touchpoints.erasure import erase_customer

    outcome = service.request_handoff("tg:31", channel="telegram", customer_id="C31")
    service.claim(outcome.handoff_id, "alice")
    service.add_note(outcome.handoff_id, "alice", "private note")
    deleted = erase_customer("C31")
    assert deleted["handoff_conversations"] == 1 and deleted["handoff_notes"] == 1
    assert service.get_handoff(outcome.handoff_id) is None


# ----------------------------------------------------------------------------- more rules, one test each
def test_login_rate_limited_per_address(server):
    """20 failures from one address in 15 minutes, whatever the logins, lock that address out."""
    c = client(server)
    for i in range(20):
        assert c.post("api/login", json={"login": f"guess{i}", "password": "nope nope nope"}).status_code == 401
    assert c.post("api/login", json={"login": "alice", "password": PASSWORD}).status_code == 429
    actions = [(a["actor"], a["action"]) for a in login_from_service_audit()]
    assert ("alice", "login_rate_limited") in actions and ("guess0", "login_failed") in actions


def login_from_service_audit():
    from bot.handoff import service

    return service.audit_log(500)


def test_console_sessions_expire_and_end_with_the_account(server):
    from bot.handoff import service

    agent = service.authenticate("alice", PASSWORD, "test")
    t0 = dt.datetime(2025, 6, 7, 6, 0)
    token = service.create_session(agent["id"], now=t0)["token"]
    assert service.session_agent(token, now=t0 + dt.timedelta(hours=1))["login"] == "alice"
    assert service.session_agent(token, now=t0 + dt.timedelta(hours=3, minutes=1)) is None  # 2 h idle
    token = service.create_session(agent["id"], now=t0)["token"]
    for hour in range(1, 12):  # active all day...
        assert service.session_agent(token, now=t0 + dt.timedelta(hours=hour)) is not None
    assert service.session_agent(token, now=t0 + dt.timedelta(hours=12, minutes=1)) is None  # ...12 h at most
    # disabling an account ends its live sessions at once
    alice = login(server, "alice")
    assert alice.get("api/me").status_code == 200
    service.set_active("alice", False)
    assert alice.get("api/me").status_code == 401
    assert client(server).post("api/login", json={"login": "alice", "password": PASSWORD}).status_code == 401


def test_analyst_reaches_reports_only(server):
    outcome = queue_one("tg:4242", customer_id="C100")
    analyst = login(server, "ana")
    for method, path in [("GET", "api/queue"), ("GET", f"api/handoffs/{outcome.handoff_id}"),
                         ("GET", f"api/handoffs/{outcome.handoff_id}/customer"), ("GET", "api/canned"),
                         ("GET", "api/audit"), ("GET", "api/agents"),
                         ("POST", f"api/handoffs/{outcome.handoff_id}/claim"),
                         ("POST", f"api/handoffs/{outcome.handoff_id}/reply"),
                         ("POST", f"api/handoffs/{outcome.handoff_id}/notes"), ("POST", "api/agents")]:
        reply = analyst.request(method, path, json={"text": "x"} if method == "POST" else None)
        assert reply.status_code == 403, (method, path)
    report = analyst.get("api/report").json()["report"]
    flat = str(report)
    for personal in ("4242", "C100", "onerror", "tg:"):  # no ids, no customer text
        assert personal not in flat
    assert report["by_channel"] == {"telegram": 1} and report["waiting_now"] == 1


@pytest.fixture
def other_channels(tmp_path):
    """Telegram and SMS outputs registered as in the Rasa server, against the fake providers."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from fakes.sms_gateways import API_KEY, FakeSmsGateways
    from fakes.telegram_api import FakeTelegram

    from bot.channels import base
    from bot.channels.sms import SmsInput
    from bot.channels.sms_gateways.kavenegar import KavenegarGateway
    from bot.channels.telegram import HamsafarTelegramInput

    saved = dict(base._outputs)
    token = "7000004:AAH-console-test-token"
    with FakeTelegram(token) as telegram, FakeSmsGateways() as sms:
        HamsafarTelegramInput(token, "secret-console", base_url=telegram.base_url)
        SmsInput({"kavenegar": KavenegarGateway(API_KEY, base_url=sms.url)}, outbound="kavenegar", backoff=0.01)
        yield telegram, sms
    base._outputs.clear()
    base._outputs.update(saved)


def test_reply_delivered_in_the_customers_own_channel(server, other_channels):
    telegram, sms = other_channels
    from bot.channels import consent

    alice = login(server, "alice")
    tg = queue_one("tg:4242", language="en")
    text = queue_one("sms:+989121234567")
    for outcome in (tg, text):
        assert alice.post(f"api/handoffs/{outcome.handoff_id}/claim", json={}).json()["delivered"] is True
    assert alice.post(f"api/handoffs/{tg.handoff_id}/reply", json={"text": "Hi, Alice here. <b>1</b>"}).json()["delivered"]
    assert alice.post(f"api/handoffs/{text.handoff_id}/reply", json={"text": "سلام، آلیس هستم."}).json()["delivered"]
    sent = telegram.wait_for("sendMessage", 2)
    assert [(int(p["chat_id"]), p["text"]) for p in sent] == [
        (4242, "Alice from our support team has joined the conversation."), (4242, "Hi, Alice here. <b>1</b>")]
    assert all("parse_mode" not in p for p in sent)
    assert [(d["to"], d["text"]) for d in sms.delivered] == [
        ("09121234567", "Alice از تیم پشتیبانی به گفتگو پیوست."), ("09121234567", "سلام، آلیس هستم.")]
    # consent holds for agents too: an opted-out number gets nothing, and the agent is told
    consent.opt_out("sms", "+989121234567")
    blocked = alice.post(f"api/handoffs/{text.handoff_id}/reply", json={"text": "هنوز هستید؟"})
    assert blocked.status_code == 200 and blocked.json()["delivered"] is False
    assert len(sms.delivered) == 2
    # the reply is in the transcript either way
    events = alice.get(f"api/handoffs/{text.handoff_id}").json()["events"]
    assert [e["text"] for e in events if e["kind"] == "agent"][-1] == "هنوز هستید؟"


def test_notes_are_internal(server):
    from bot.channels.web import history

    conversation = "web:sess_dddddddddddddddd"
    outcome = queue_one(conversation)
    alice, bob, root = login(server, "alice"), login(server, "bob"), login(server, "root")
    alice.post(f"api/handoffs/{outcome.handoff_id}/claim", json={})
    assert bob.post(f"api/handoffs/{outcome.handoff_id}/notes", json={"text": "mine"}).status_code == 403
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/notes", json={"text": ""}).status_code == 400
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/notes",
                      json={"text": "customer sounds upset; refund likely"}).status_code == 200
    assert root.post(f"api/handoffs/{outcome.handoff_id}/notes", json={"text": "approved"}).status_code == 200
    notes = alice.get(f"api/handoffs/{outcome.handoff_id}").json()["notes"]
    assert [(n["agent"], n["text"]) for n in notes] == [("alice", "customer sounds upset; refund likely"),
                                                          ("root", "approved")]
    shown = " ".join(m["text"] for m in history("sess_dddddddddddddddd"))
    assert "refund" not in shown and "approved" not in shown  # never sent to the customer
    tracker = server.call(server.rasa_agent.tracker_store.retrieve(conversation))
    assert not any("refund" in (getattr(e, "text", None) or "") for e in tracker.events)  # nor into the tracker


def test_customer_360_earlier_conversations_on_every_channel_and_tickets(server, environment):
    from bot.db import get_engine
    from bot.handoff import service
    from bot.touchpoints.store import insert_rows

    earlier = service.request_handoff("tg:4242", channel="telegram", customer_id="C100",
                                      now=service.utcnow() - dt.timedelta(days=2))
    service.expire_unclaimed(60)  # nobody took it: a ticket
    now = dt.datetime(2025, 6, 1, 10, 0)
    insert_rows(get_engine(), [
        {"event_id": f"e{i}", "occurred_at": now + dt.timedelta(minutes=i), "conversation_id": conv,
         "customer_id": "C100", "channel": channel, "actor": "customer"}
        for i, (conv, channel) in enumerate([("tg:4242", "telegram"), ("tg:4242", "telegram"),
                                             ("sms:+989121234567", "sms"), ("web:sess_eeeeeeeeeeeeeeee", "web")])
    ] + [{"event_id": "other", "occurred_at": now, "conversation_id": "tg:1", "customer_id": "C999",
          "channel": "telegram", "actor": "customer"}]
      # goal transitions as the recorder writes them; the handoff row is not a goal
      + [{"event_id": f"g{i}", "occurred_at": now + dt.timedelta(minutes=10 + i), "conversation_id": conv,
          "customer_id": customer, "channel": channel, "actor": "system", "actions": [action], "goal": goal,
          "goal_status": status}
         for i, (conv, customer, channel, action, goal, status) in enumerate([
             ("tg:4242", "C100", "telegram", "goal_completed", "know_price", "completed"),
             ("sms:+989121234567", "C100", "sms", "goal_started", "track_order", "started"),
             ("sms:+989121234567", "C100", "sms", "handoff_started", "track_order", "started"),
             ("tg:1", "C999", "telegram", "goal_failed", "cancel_order", "failed")])])
    outcome = queue_one("web:sess_eeeeeeeeeeeeeeee", customer_id="C100")
    panel = login(server, "alice").get(f"api/handoffs/{outcome.handoff_id}/customer").json()
    assert panel["profile"]["phone"] == "+989121234567" and panel["orders"][0]["status"] == "shipped"
    assert [(g["goal"], g["status"], g["channel"]) for g in panel["goals"]] == [
        ("track_order", "started", "sms"), ("know_price", "completed", "telegram")]  # newest first, C100's only
    conversations = {c["conversation_id"]: (c["channel"], c["turns"], c["current"]) for c in panel["conversations"]}
    from bot.touchpoints.privacy import conversation_ref

    assert conversations == {"tg:4242": ("telegram", 3, False), "sms:+989121234567": ("sms", 3, False),
                             conversation_ref("web:sess_eeeeeeeeeeeeeeee"): ("web", 1, True)}  # not another customer's;
    # the console shows a web conversation only by its reference
    assert [h["id"] for h in panel["handoffs"]] == [earlier.handoff_id]
    assert panel["tickets"][0]["reference"] == environment.tickets[-1].reference


def test_hand_back_keeps_the_conversations_context(server):
    conversation = "tg:8080"
    server.call(seed_conversation(server.rasa_agent, conversation, [
        {"user": "سفارش ۱۰۰۲۳۴", "intent": "track_order", "stage": "retention"},
        {"slot": ("goal", "track_order")}, {"slot": ("journey_stage", "retention")},
        {"slot": ("customer_id", "C100")}, {"slot": ("handoff_active", True)}]))
    outcome = queue_one(conversation)
    alice = login(server, "alice")
    alice.post(f"api/handoffs/{outcome.handoff_id}/claim", json={})
    assert alice.post(f"api/handoffs/{outcome.handoff_id}/handback", json={}).status_code == 200
    tracker = server.call(server.rasa_agent.tracker_store.retrieve(conversation))
    assert tracker.get_slot("handoff_active") is False
    assert (tracker.get_slot("goal"), tracker.get_slot("journey_stage"), tracker.get_slot("customer_id")) == (
        "track_order", "retention", "C100")


def test_timeout_watcher_runs_by_itself(environment, monkeypatch):
    """The console's background watcher expires unclaimed handoffs without anyone asking."""
    import time as clock

    from bot.channels.web import history
    from bot.handoff import service
    from bot.handoff.console import AgentConsoleInput
    from tests.test_handoff_support import EchoAgent, ServerThread

    monkeypatch.setenv("HAMSAFAR_HANDOFF_CLAIM_TIMEOUT", "1")
    channel = AgentConsoleInput(watch_interval=0.2)
    outcome = service.request_handoff("web:sess_ffffffffffffffff", channel="web", language="fa")
    with ServerThread([channel], EchoAgent()) as srv:
        srv.app.ctx.agent = RasaAgentStub()
        deadline = clock.time() + 10
        tracker = None
        while clock.time() < deadline:  # until the customer is told and the bot is back
            tracker = srv.call(srv.app.ctx.agent.tracker_store.retrieve("web:sess_ffffffffffffffff"))
            if tracker is not None and tracker.get_slot("handoff_active") is False:
                break
            clock.sleep(0.1)
        assert service.get_handoff(outcome.handoff_id)["status"] == "timed_out"
    text = history("sess_ffffffffffffffff")[-1]["text"]
    assert "پوزش" in text and environment.tickets[-1].reference in text  # apology + ticket, in Persian
    assert tracker.get_slot("handoff_active") is False
