"""`hamsafar erase` leaves nothing of the customer behind (issue 17, finding 5).

Two customers' data are written through the project's own code paths (identity
verification and one-time codes, touchpoint recording and its spool, web and SMS
message logs, consent, handoff request and note, Rasa's tracker store) and a few
direct rows where no code path is practical (CRM records, orchestration). After
`erase_customer`, EVERY table and EVERY text/JSON column of the reflected schema
is read and searched for the target customer's phone (in any form: digits are
normalised, separators dropped), email, name, conversation ids and message text;
the other customer's values must still be found, so the walk can fail both ways.
Runs on SQLite, and on PostgreSQL too when HAMSAFAR_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
import sqlalchemy as sa

from bot.text.persian import to_ascii_digits

TARGET = {
    "customer_id": "C-ERASE-1",
    "key": "t1",
    "name": "Parisa Zanbourian",
    "email": "parisa.zanbour@example.com",
    "phone_forms": ["+989123456789", "09123456789", "0912 345 6789", "۰۹۱۲۳۴۵۶۷۸۹"],
    "conversations": ["sms:+989123456789", "tg:770055510", "web:sess-parisa-77"],
    "text": "Zanbourak-lantern parcel",
}
OTHER = {
    "customer_id": "C-KEEP-2",
    "key": "o2",
    "name": "Kourosh Mandegar",
    "email": "kourosh.mandegar@example.org",
    "phone_forms": ["+989351112233", "09351112233", "0935-111-2233", "۰۹۳۵۱۱۱۲۲۳۳"],
    "conversations": ["sms:+989351112233", "tg:880066620", "web:sess-kourosh-88"],
    "text": "Mandegar-harbour crate",
}


def needles(person: Dict[str, Any]) -> Dict[str, str]:
    """What must (not) be found, in the normalised form `normalised()` produces."""
    national = re.sub(r"\D", "", to_ascii_digits(person["phone_forms"][0]))[-10:]  # 9123456789
    found = {"phone": national, "email": person["email"].lower(), "name": person["name"].lower(),
             "text": person["text"].lower(), "customer_id": person["customer_id"].lower()}
    for conversation in person["conversations"]:
        found[f"conversation {conversation}"] = normalised(conversation.split(":", 1)[1])
    return found


def normalised(value: Any) -> str:
    """Lower-case text with ASCII digits and no spaces, dashes or dots between digits."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = to_ascii_digits(text).lower()
    return re.sub(r"(?<=\d)[\s\-.\u200c]+(?=\d)", "", text)


# Where the customer id itself may stay: the shop's books (orders, payments) name the
# customer by an opaque id, with name, phone and email erased from the customer row.
CUSTOMER_ID_MAY_STAY = {("customers", "customer_id"), ("orders", "customer_id")}


def walk(url: str, person: Dict[str, Any]) -> List[Tuple[str, str, str]]:
    """(table, column, what) for every value of `person` found in any text/JSON column."""
    engine = sa.create_engine(url, future=True)
    meta = sa.MetaData()
    meta.reflect(engine)
    wanted = needles(person)
    found: List[Tuple[str, str, str]] = []
    try:
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                columns = [c for c in table.columns
                           if isinstance(c.type, (sa.String, sa.Text, sa.JSON)) or "JSON" in type(c.type).__name__]
                if not columns:
                    continue
                for row in conn.execute(sa.select(*columns)):
                    for column, value in zip(columns, row):
                        if value is None:
                            continue
                        text = normalised(value)
                        for what, needle in wanted.items():
                            if needle in text and (what != "customer_id"
                                                   or (table.name, column.name) not in CUSTOMER_ID_MAY_STAY):
                                found.append((table.name, column.name, what))
    finally:
        engine.dispose()
    return sorted(set(found))


def files_mentioning(directory: Path, person: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(file, what) for every file under `directory` holding a value of `person`."""
    wanted = needles(person)
    found = []
    for path in directory.rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".replaying", ".json", ".log", ".txt"):
            text = normalised(path.read_text(encoding="utf-8", errors="replace"))
            found += [(path.name, what) for what, needle in wanted.items() if needle in text]
    return sorted(set(found))


# --------------------------------------------------------------------------- filling


class RecordingGateway:
    """An SMS gateway that accepts everything (no network)."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: List[Tuple[str, str]] = []

    async def send(self, phone: str, text: str, *, local_id: int) -> Any:
        from bot.channels.sms_gateways.base import SendResult

        self.sent.append((phone, text))
        return SendResult(message_id=f"m{local_id}")

    async def find_sent(self, *args: Any, **kwargs: Any) -> None:
        return None


def rasa_events(conversation: str, person: Dict[str, Any], start: float, identified: bool = True) -> List[Dict[str, Any]]:
    """A turn before identification, the customer_id slot, and a turn after it."""
    events: List[Dict[str, Any]] = [
        {"event": "user", "text": f"hello, I am {person['name']}", "timestamp": start,
         "input_channel": "hamsafar_telegram", "message_id": f"{conversation}-1",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": [], "language": "en"}},
        {"event": "bot", "text": f"Hi {person['name']}!", "timestamp": start + 1},
        {"event": "action", "name": "action_listen", "timestamp": start + 2},
    ]
    if identified:
        events.append({"event": "slot", "name": "customer_id", "value": person["customer_id"], "timestamp": start + 3})
    events += [
        {"event": "user", "text": f"{person['text']}: call {person['phone_forms'][1]} or {person['email']}",
         "timestamp": start + 10, "input_channel": "hamsafar_telegram", "message_id": f"{conversation}-2",
         "parse_data": {"intent": {"name": "order_status", "confidence": 0.8},
                        "entities": [{"entity": "name", "value": person["name"]}], "language": "en"}},
        {"event": "bot", "text": f"{person['name']}, your {person['text']} is on its way", "timestamp": start + 11},
        {"event": "action", "name": "action_listen", "timestamp": start + 12},
    ]
    return [{"sender_id": conversation, **event} for event in events]


def save_rasa_tracker(url: str, events: List[Dict[str, Any]]) -> None:
    """Store the conversation in Rasa's own `events` table through Rasa's SQLTrackerStore."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=parsed.database)
    else:
        store = SQLTrackerStore(Domain.empty(), dialect="postgresql", host=parsed.host, port=parsed.port,
                                db=parsed.database, username=parsed.username, password=parsed.password)
    clean = [{k: v for k, v in e.items() if k != "sender_id"} for e in events]
    tracker = DialogueStateTracker.from_dict(events[0]["sender_id"], clean, Domain.empty().slots)
    asyncio.run(store.save(tracker))
    store.engine.dispose()


def fill(url: str, state_dir: Path, person: Dict[str, Any], start: float) -> None:
    """Write everything Hamsafar keeps about `person`, through its own code where practical."""
    from bot.channels import consent, web
    from bot.channels.botapi import callback_data_for
    from bot.channels.sms import SmsOutput
    from bot.crm.models import CustomerRow, FeedbackRow, OrderRow, TicketRow
    from bot.db import session_scope
    from bot.handoff import service as handoff
    from bot.handoff.config import WorkingHours
    from bot.identity.verification import Verifier
    from bot.orchestration.models import JourneyEntry, JourneyMessage
    from bot.touchpoints.assembler import TurnAssembler
    from bot.touchpoints.recorder import TouchpointRecorder
    from bot.touchpoints.store import insert_rows
    from bot.db import get_engine

    cid, sms_conv, tg_conv, web_conv = person["customer_id"], *person["conversations"]
    session_id = web_conv.split(":", 1)[1]
    now = dt.datetime(2026, 5, 5, 8, 0)
    with session_scope(url) as s:  # the shop's CRM record (the SQL backend keeps it in our database)
        s.add(CustomerRow(customer_id=cid, name=person["name"], phone=person["phone_forms"][0],
                          email=person["email"], language="en"))
        s.flush()
        s.add(OrderRow(order_id=f"O-{person['key']}", customer_id=cid, status="paid", created_at=now, total=1000,
                       shipping_address=f"{person['name']}, Tehran, {person['phone_forms'][1]}"))
        s.add(TicketRow(reference=f"T-{person['key']}", customer_id=cid, subject=person["text"],
                        description=f"{person['name']} {person['email']}", channel="telegram"))
        s.add(FeedbackRow(kind="csat", score=5, customer_id=cid, comment=person["text"],
                          conversation_id=tg_conv, channel="telegram"))

    # identity: the SMS sender, a Telegram contact (Persian digits), a web one-time code (spaced)
    codes: List[Tuple[str, str]] = []
    verifier = Verifier(url=url, sender=lambda phone, text: codes.append((phone, text)), otp_pepper="pepper")
    assert verifier.verify_sms_sender(sms_conv, person["phone_forms"][1]).ok
    assert verifier.verify_telegram_contact(tg_conv, person["phone_forms"][-1], int(tg_conv[3:]), int(tg_conv[3:])).ok
    assert verifier.request_code(web_conv, person["phone_forms"][2]).status in ("sent", "code_sent")

    # touchpoints and Rasa's tracker store, from the same Rasa events
    for index, conversation in enumerate(person["conversations"]):
        events = rasa_events(conversation, person, start + 100 * index)
        assembler, rows = TurnAssembler(), []
        for event in events:
            rows += assembler.feed(event)
        assert insert_rows(get_engine(url), rows) == len(rows)
        save_rasa_tracker(url, events)
    # a spooled row and a spooled event (the database was down), and a quarantined line
    spooler = TouchpointRecorder(url, spool_path=state_dir / "touchpoints-spool-999999991.jsonl")
    late = rasa_events(tg_conv, person, start + 900)
    assembler, rows = TurnAssembler(), []
    for event in late:
        rows += assembler.feed(event)
    spooler._spool(rows[-1:] + [{"__event__": event} for event in late])
    spooler._quarantine([f'{{"sender_id": "{tg_conv}", "text": "{person["text"]}" (torn'])

    # channels: web widget history, SMS log (a one-time code and a message), consent, callbacks
    web.start_session(conversation=session_id, verified=True)   # the widget's session row names the conversation
    web.append_message(session_id, "customer", f"{person['text']} — {person['phone_forms'][2]}")
    web.append_message(session_id, "bot", f"Thanks {person['name']}", [{"title": "OK", "payload": "/affirm"}])
    output = SmsOutput(RecordingGateway())  # type: ignore[arg-type]
    asyncio.run(output.send_sms(person["phone_forms"][1], "Your code: 4821", kind="otp"))
    asyncio.run(output.send_sms(sms_conv, f"{person['name']}, your {person['text']} shipped"))
    consent.opt_out("sms", person["phone_forms"][0])
    consent.opt_out("telegram", tg_conv)
    consent.opt_out("web", web_conv)
    callback_data_for(f'/share_phone{{"phone": "{person["phone_forms"][0]}"}}')

    # handoff: requested in the Telegram conversation, with an agent's note
    outcome = handoff.request_handoff(tg_conv, channel="telegram", language="en", customer_id=cid,
                                      summary=person["text"], hours=WorkingHours(opens=None, closes=None, days_off=()))
    handoff.claim(outcome.handoff_id, "agent1")
    handoff.add_note(outcome.handoff_id, "agent1", f"{person['name']} wants {person['text']}")

    # orchestration: a journey entry by customer id with the message sent, and one keyed by phone only
    with session_scope(url) as s:
        entry = JourneyEntry(journey="abandoned_payment", journey_version=1, entry_key=f"k-{person['key']}",
                             customer_key=cid, customer_id=cid, context={"name": person["name"],
                                                                          "phone": person["phone_forms"][0]},
                             anchor_at=now, clock_at=now, entered_at=now)
        s.add(entry)
        s.flush()
        s.add(JourneyMessage(entry_id=entry.id, journey="abandoned_payment", step="remind", customer_key=cid,
                             status="sent", channel="sms", conversation_id=sms_conv,
                             text=f"{person['name']}, {person['text']}", created_at=now))
        s.add(JourneyEntry(journey="stock_back", journey_version=1, entry_key=f"p-{person['key']}",
                           customer_key=f"phone:{person['phone_forms'][0]}", customer_id=None,
                           context={"phone": person["phone_forms"][0]}, anchor_at=now, clock_at=now, entered_at=now))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database with the whole schema, as the default database of this process."""
    from bot import db, schema, settings
    from bot.identity import verification

    url = f"sqlite:///{tmp_path / 'erase.db'}" if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("HAMSAFAR_DATABASE_URL", url)
    monkeypatch.setenv("HAMSAFAR_CRM_BACKEND", "sql")
    monkeypatch.setattr(settings, "STATE_DIR", state)
    monkeypatch.setattr(verification, "_verifier", None, raising=False)
    schema.init_db(url)
    yield url
    db.dispose_engines()


def test_erase_leaves_nothing_of_the_customer_in_any_table_or_spool_file(database: str, tmp_path: Path) -> None:
    from bot import settings
    from bot.touchpoints.erasure import erase_customer

    fill(database, settings.STATE_DIR, TARGET, 1_780_000_000.0)
    fill(database, settings.STATE_DIR, OTHER, 1_780_100_000.0)
    before = walk(database, TARGET)
    assert {t for t, _, _ in before} >= {"touchpoints", "events", "web_messages", "sms_messages", "channel_consent"}

    deleted = erase_customer(TARGET["customer_id"], database)

    assert walk(database, TARGET) == [], f"left after erase (table, column, what); deleted: {deleted}"
    assert files_mentioning(settings.STATE_DIR, TARGET) == []
    kept = {t for t, _, _ in walk(database, OTHER)}
    assert kept >= {"touchpoints", "events", "web_messages", "sms_messages", "channel_consent", "verified_identities",
                    "otp_codes", "handoff_conversations", "handoff_notes", "journey_entries", "journey_messages",
                    "customers", "telegram_callbacks"}, kept
    assert {what for _, what in files_mentioning(settings.STATE_DIR, OTHER)} >= {"conversation tg:880066620"}


def test_the_touchpoint_writer_does_not_attach_the_erased_id_again(sqlite_url: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A conversation erased while the writer runs: its next rows carry no customer id,
    whether the writer is in this process (it is told to forget) or in another one
    (Rasa starts the emptied conversation with a new session, which resets the state)."""
    from bot import settings
    from bot.touchpoints.erasure import erase_customer
    from bot.touchpoints.recorder import TouchpointRecorder
    from bot.touchpoints.store import rows_for
    from bot.db import get_engine
    from bot.schema import init_db

    monkeypatch.setattr(settings, "STATE_DIR", tmp_path)
    init_db(sqlite_url)
    recorder = TouchpointRecorder(sqlite_url, flush_interval_s=0.05,
                                  spool_path=tmp_path / "touchpoints-spool-1.jsonl").start()
    try:
        for event in rasa_events("tg:770055510", TARGET, 1_780_000_000.0):
            recorder.publish(event)
        assert recorder.flush()
        assert rows_for(get_engine(sqlite_url), "tg:770055510")[-1]["customer_id"] == TARGET["customer_id"]
        erase_customer(TARGET["customer_id"], sqlite_url)
        assert rows_for(get_engine(sqlite_url), "tg:770055510") == []
        later = rasa_events("tg:770055510", OTHER, time.time() + 1, identified=False)  # written after the erase
        for event in later:
            recorder.publish(event)
        assert recorder.flush()
        rows = rows_for(get_engine(sqlite_url), "tg:770055510")
        assert rows and all(row["customer_id"] is None for row in rows)
    finally:
        recorder.close()


def test_a_new_session_resets_the_writer_state_of_a_conversation() -> None:
    """The other-process case: after the erase Rasa finds no events, starts a new session and
    sets no customer_id, so the assembler must not carry the old id over `session_started`."""
    from bot.touchpoints.assembler import TurnAssembler

    assembler = TurnAssembler()
    for event in rasa_events("tg:770055510", TARGET, 1_780_000_000.0):
        assembler.feed(event)
    rows: List[Dict[str, Any]] = []
    for event in [{"event": "session_started", "timestamp": 1_780_000_600.0}] + \
            rasa_events("tg:770055510", OTHER, 1_780_000_601.0, identified=False)[:3]:
        rows += assembler.feed({"sender_id": "tg:770055510", **event})
    assert rows and all(row["customer_id"] is None for row in rows)
    # a carried-over slot (Rasa's action_session_start re-sets it after session_started) still counts
    assembler.feed({"sender_id": "tg:770055510", "event": "session_started", "timestamp": 1_780_000_700.0})
    assembler.feed({"sender_id": "tg:770055510", "event": "slot", "name": "customer_id", "value": "C-KEEP-2",
                    "timestamp": 1_780_000_700.0})
    rows = []
    for event in rasa_events("tg:770055510", OTHER, 1_780_000_701.0, identified=False)[:3]:
        rows += assembler.feed(event)
    assert rows and all(row["customer_id"] == "C-KEEP-2" for row in rows)


def test_every_module_with_tables_registers_an_eraser() -> None:
    """Each module listed in bot.schema.MODEL_MODULES (whose tables can hold customer data) has an eraser;
    tests/test_registries.py checks it table by table. ERASERS are imported by name in code, so one that
    does not exist stops the import of bot.touchpoints.erasure instead of an erase half-way."""
    from bot.schema import MODEL_MODULES
    from bot.touchpoints.erasure import ERASERS

    packages: Set[str] = {eraser.__module__.split(".")[1] for eraser in ERASERS} | {"touchpoints"}
    assert {module.__name__.split(".")[1] for module in MODEL_MODULES} <= packages
