"""Multi-turn customer conversations written as data, played against a real Hamsafar.

A conversation file (`tests/conversations/*.yml`, held-out ones in
`tests/conversations/heldout/`) holds conversations like:

```yaml
- id: buy-it-after-price-en
  kind: reference            # what it exercises: reference, interruption, switch, correction,
                             # closing, frustration, clarification, multi, repeat, tracking
  language: en               # the language every reply must be in
  customer: {order: delivered}   # optional: a demo customer (with an order in that status)
  turns:
    - user: how much are the galaxy buds?
      says: [Toman]          # regexes: each must match the turn's replies (case-insensitive)
    - user: ok I want to buy it
      says: [Galaxy Buds]
      not_says: [couldn't find]
    - user: "{phone}"        # placeholders: {phone} {phone_fa} {code} {order} {order_fa}
    - user: "{code}"
    - user: yes
      says: [Order \\d+ is placed]
  outcome:
    goals: {know_price: completed, place_order: completed}   # final status per goal; `none` = never started
    orders_placed: 1         # new orders of the customer
    order_status: cancelled  # status of {order} afterwards
    tickets: 1               # tickets opened during the conversation
    ticket_says: [screen]    # regexes the new ticket's description must match
    handoff: false           # whether a person took over
```

`Player.play` sends each `user` line through the REST channel, checks every
reply for leaked internals (None, slot or action names, placeholders,
tracebacks) and the reply language, then checks the outcome where it is
recorded: the touchpoints table, the orders and tickets tables, the handoff
state. The result lists every failure, so the benchmark can count and the
tests can show them.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

import sqlalchemy as sa
import yaml

from bot.text.identifiers import normalise_phone
from bot.text.persian import has_persian_letters, to_ascii_digits, to_persian_digits

CONVERSATIONS_DIR = Path(__file__).resolve().parents[1] / "conversations"
HELDOUT_DIR = CONVERSATIONS_DIR / "heldout"

# What a customer must never see: internal values, names of slots and actions, template holes, errors.
LEAKS = re.compile(
    r"\bNone\b|\bnull\b|\bTrue\b|\bFalse\b|\{[a-z_]+\}|\butter_[a-z_]+|\baction_[a-z_]+|\b[a-z]+_form\b|"
    r"requested_slot|dialogue_move|nlu_fallback|Traceback|Exception|Error:|\bslot\b|intent_ranking",
)
PERSIAN_LETTER = re.compile(r"[\u0600-\u06ff]")


@dataclass
class Turn:
    user: str
    says: List[str] = field(default_factory=list)
    not_says: List[str] = field(default_factory=list)
    buttons: List[str] = field(default_factory=list)
    silent: bool = False      # the bot must not answer (a person has the conversation)


@dataclass
class Conversation:
    id: str
    kind: str
    language: str
    turns: List[Turn]
    customer: Optional[Dict[str, Any]] = None
    outcome: Dict[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass
class Result:
    conversation: Conversation
    failures: List[str]
    transcript: List[str]

    @property
    def ok(self) -> bool:
        return not self.failures

    def report(self) -> str:
        return (f"{self.conversation.id} ({self.conversation.source}):\n  " + "\n  ".join(self.failures)
                + "\n  --- transcript ---\n  " + "\n  ".join(self.transcript))


def load(paths: Iterable[Path]) -> List[Conversation]:
    conversations: List[Conversation] = []
    for path in paths:
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            for turn in entry["turns"]:
                if not isinstance(turn.get("user"), (str, int)) or isinstance(turn.get("user"), bool):
                    # YAML reads an unquoted yes/no/on/off as a boolean: quote what the customer types
                    raise ValueError(f"{path.name} {entry.get('id')}: quote the customer's words {turn.get('user')!r}")
            turns = [Turn(user=str(t["user"]), says=list(t.get("says") or []), not_says=list(t.get("not_says") or []),
                          buttons=list(t.get("buttons") or []), silent=bool(t.get("silent")))
                     for t in entry["turns"]]
            conversations.append(Conversation(
                id=str(entry["id"]), kind=str(entry["kind"]), language=str(entry["language"]), turns=turns,
                customer=entry.get("customer"), outcome=dict(entry.get("outcome") or {}), source=path.name))
    ids = [c.id for c in conversations]
    duplicated = {i for i in ids if ids.count(i) > 1}
    if duplicated:
        raise ValueError(f"duplicated conversation ids: {sorted(duplicated)}")
    return conversations


def tuning_set() -> List[Conversation]:
    return load(sorted(CONVERSATIONS_DIR.glob("*.yml")))


def heldout_set() -> List[Conversation]:
    return load(sorted(HELDOUT_DIR.glob("*.yml")))


class Player:
    """Plays conversations through the REST channel of a running `hamsafar run`."""

    def __init__(self, bot: Any, sms: Any, database_url: str) -> None:
        self.bot = bot
        self.sms = sms
        self.db = sa.create_engine(database_url, future=True)
        self.used_customers: Dict[str, int] = {}
        self.used_orders: Set[str] = set()
        self.in_play: Set[str] = set()
        self.run_id = uuid.uuid4().hex[:6]
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.dispose()

    # -- customers ---------------------------------------------------------------------
    def _rows(self, query: str, **params: Any) -> List[Dict[str, Any]]:
        with self.db.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(query), params).mappings()]

    def _pick_customer(self, wanted: Dict[str, Any]) -> Dict[str, Any]:
        """A demo customer with a phone (and an order in the wanted status) that no conversation
        is playing right now: the least used one, at most three conversations each (the shop
        sends a phone at most three one-time codes an hour) unless none is left, each order used
        once when it can be."""
        status = wanted.get("order")
        if status:
            # `latest_open` — the order is the customer's newest open one, which the bot offers first
            # ("Your latest open order is …"): such customers are taken first
            candidates = self._rows(
                "SELECT c.customer_id, c.phone, o.order_id, NOT EXISTS (SELECT 1 FROM orders newer "
                "WHERE newer.customer_id = c.customer_id AND newer.status IN ('pending_payment', 'paid', "
                "'processing', 'shipped') AND (newer.created_at > o.created_at OR (newer.created_at = o.created_at "
                "AND newer.order_id > o.order_id))) AS latest_open FROM customers c JOIN orders o "
                "ON o.customer_id = c.customer_id WHERE o.status = :s AND c.phone IS NOT NULL "
                "ORDER BY c.customer_id, o.created_at DESC", s=status)
        else:
            candidates = self._rows("SELECT customer_id, phone, NULL AS order_id, 1 AS latest_open FROM customers "
                                    "WHERE phone IS NOT NULL ORDER BY customer_id")
        rarest = self._scarcity(status)
        deadline = time.monotonic() + 120
        while True:
            with self._lock:
                free = [row for row in candidates if row["customer_id"] not in self.in_play
                        and self.used_customers.get(row["customer_id"], 0) < 3]
                if free:
                    # an order still in that status, one not used before when there is one; a
                    # customer other conversations need for a rarer status only when no other is free
                    row = min(free, key=lambda r: (not r["latest_open"], r["order_id"] in self.used_orders,
                                                   -rarest.get(r["customer_id"], 10 ** 6),
                                                   self.used_customers.get(r["customer_id"], 0)))
                    self.used_customers[row["customer_id"]] = self.used_customers.get(row["customer_id"], 0) + 1
                    self.in_play.add(row["customer_id"])
                    if row["order_id"]:
                        self.used_orders.add(row["order_id"])
                    return row
                spent = [row for row in candidates if row["customer_id"] not in self.in_play]
                if spent:
                    # every such customer has had its three codes this hour: an hour passes for the
                    # least used one (its codes are dropped), as it would between two real visits
                    row = min(spent, key=lambda r: (not r["latest_open"], r["order_id"] in self.used_orders,
                                                    self.used_customers.get(r["customer_id"], 0)))
                    with self.db.begin() as conn:
                        conn.execute(sa.text("DELETE FROM otp_codes WHERE phone = :p"),
                                     {"p": normalise_phone(str(row["phone"]))})
                    self.used_customers[row["customer_id"]] = 1
                    self.in_play.add(row["customer_id"])
                    if row["order_id"]:
                        self.used_orders.add(row["order_id"])
                    return row
            if time.monotonic() > deadline:
                raise RuntimeError(f"no demo customer left for {wanted}")
            time.sleep(0.5)   # every such customer is in another conversation right now

    def _scarcity(self, status: Optional[str]) -> Dict[str, int]:
        """How rare the rarest order a customer holds is (orders in that status), for orders rarer
        than `status` (any order, for a conversation that wants none): each customer can play three
        conversations, and the demo shop has only ten customers with a paid order, so the others
        take customers that rare orders do not need first."""
        counts = {r["status"]: r["n"] for r in self._rows("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")}
        limit = counts.get(status, 0) if status else max(counts.values(), default=0) + 1
        rarest: Dict[str, int] = {}
        for row in self._rows("SELECT DISTINCT customer_id, status FROM orders"):
            if counts[row["status"]] < limit:
                rarest[row["customer_id"]] = min(rarest.get(row["customer_id"], limit), counts[row["status"]])
        return rarest

    def _release(self, customer: Optional[Dict[str, Any]]) -> None:
        if customer is not None:
            with self._lock:
                self.in_play.discard(customer["customer_id"])

    def _latest_code(self, phone: str) -> str:
        e164 = normalise_phone(phone)
        for message in reversed(self.sms.delivered):
            if normalise_phone(str(message["to"])) == e164:
                found = re.search(r"\d{6}", to_ascii_digits(str(message["text"])))
                if found:
                    return found.group(0)
        return "000000"

    # -- playing -----------------------------------------------------------------------
    def play(self, conversation: Conversation) -> Result:
        # a REST sender is at most 64 characters: long ids are cut, with a hash keeping them apart
        digest = hashlib.sha1(conversation.id.encode()).hexdigest()[:6]
        sender = f"{conversation.id[:40]}-{digest}-{self.run_id}"
        conversation_id = f"rest:{sender}"
        failures: List[str] = []
        transcript: List[str] = []
        customer = self._pick_customer(conversation.customer) if conversation.customer is not None else None
        started = self._now()
        orders_before = self._orders_of(customer)
        # tickets already there: `started` has a second of slack, in which the customer's previous
        # conversation may have opened one
        tickets_before = {r["reference"] for r in self._rows("SELECT reference FROM tickets WHERE created_at >= :t",
                                                             t=started)}
        for number, turn in enumerate(conversation.turns, 1):
            text = self._fill(turn.user, customer)
            try:
                messages = self.bot.send(sender, text)
            except Exception as error:  # noqa: BLE001 - an HTTP failure is a failed conversation
                failures.append(f"turn {number} {text!r}: request failed: {error}")
                break
            replies = [str(m.get("text") or "") for m in messages]
            buttons = [str(b.get("title") or "") for m in messages for b in m.get("buttons") or []]
            reply = "\n".join(replies)
            transcript.append(f"> {text}")
            transcript += [f"< {line}" for line in reply.splitlines()] + [f"  [{b}]" for b in buttons]
            failures += [f"turn {number} {text!r}: {problem}" for problem in
                         self._check_turn(turn, reply, buttons, conversation.language, customer)]
        try:
            failures += self._check_outcome(conversation, conversation_id, customer, started, orders_before,
                                            tickets_before)
        finally:
            self._release(customer)
        return Result(conversation, failures, transcript)

    def _fill(self, text: str, customer: Optional[Dict[str, Any]]) -> str:
        if customer is None:
            return text
        phone = str(customer["phone"] or "")
        order = str(customer.get("order_id") or "")
        values = {"{phone}": phone, "{phone_fa}": to_persian_digits(phone), "{order}": order,
                  "{order_fa}": to_persian_digits(order)}
        for key, value in values.items():
            text = text.replace(key, value)
        if "{code}" in text:
            text = text.replace("{code}", self._latest_code(phone))
        return text

    def _check_turn(self, turn: Turn, reply: str, buttons: List[str], language: str,
                    customer: Optional[Dict[str, Any]]) -> List[str]:
        problems: List[str] = []
        everything = reply + "\n" + "\n".join(buttons)
        comparable = comparable_text(everything)
        if turn.silent:
            if reply.strip():
                problems.append(f"expected no reply, got {reply!r}")
            return problems
        if not reply.strip():
            problems.append("no reply")
        leak = LEAKS.search(everything)
        if leak:
            problems.append(f"leaked internal text {leak.group(0)!r} in {everything!r}")
        if reply.strip():
            persian = bool(PERSIAN_LETTER.search(reply))
            if language == "fa" and not persian:
                problems.append(f"reply not in Persian: {reply!r}")
            if language == "en" and persian:
                problems.append(f"reply not in English: {reply!r}")
        for pattern in turn.says:
            if not re.search(comparable_text(self._fill(pattern, customer)), comparable, re.IGNORECASE):
                problems.append(f"reply does not say /{pattern}/: {everything!r}")
        for pattern in turn.not_says:
            if re.search(comparable_text(self._fill(pattern, customer)), comparable, re.IGNORECASE):
                problems.append(f"reply says /{pattern}/: {everything!r}")
        for pattern in turn.buttons:
            if not any(re.search(comparable_text(pattern), comparable_text(b), re.IGNORECASE) for b in buttons):
                problems.append(f"no button /{pattern}/ in {buttons}")
        return problems

    # -- outcomes ------------------------------------------------------------------------
    def _now(self) -> Any:
        import datetime as dt

        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=1)

    def _orders_of(self, customer: Optional[Dict[str, Any]]) -> int:
        if customer is None:
            return 0
        return int(self._rows("SELECT COUNT(*) AS n FROM orders WHERE customer_id = :c",
                              c=customer["customer_id"])[0]["n"])

    def goal_outcomes(self, conversation_id: str) -> Dict[str, str]:
        """Final status of each goal of the conversation, from the touchpoints' system rows."""
        rows = self._rows("SELECT goal, goal_status FROM touchpoints WHERE conversation_id = :c AND actor = 'system' "
                          "AND goal IS NOT NULL AND goal_status IS NOT NULL ORDER BY occurred_at, id",
                          c=conversation_id)
        final: Dict[str, str] = {}
        for row in rows:
            final[row["goal"]] = row["goal_status"]
        return final

    def _wait_for_touchpoints(self, conversation_id: str, turns: int, timeout_s: float = 20) -> None:
        """Touchpoints are written asynchronously: wait for the last customer turn's row."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self._rows("SELECT COUNT(*) AS n FROM touchpoints WHERE conversation_id = :c AND actor = 'customer'",
                               c=conversation_id)[0]["n"]
            if found >= turns:
                time.sleep(0.3)   # the turn's system rows come in the same batch; a little slack
                return
            time.sleep(0.2)

    def _check_outcome(self, conversation: Conversation, conversation_id: str, customer: Optional[Dict[str, Any]],
                       started: Any, orders_before: int, tickets_before: Set[str]) -> List[str]:
        expected = conversation.outcome
        if not expected:
            return []
        problems: List[str] = []
        self._wait_for_touchpoints(conversation_id, len(conversation.turns))
        goals = self.goal_outcomes(conversation_id)
        for goal, status in (expected.get("goals") or {}).items():
            actual = goals.get(goal, "none")
            if actual != status:
                problems.append(f"goal {goal}: expected {status}, touchpoints say {actual} (all: {goals})")
        if "orders_placed" in expected:
            placed = self._orders_of(customer) - orders_before
            if placed != int(expected["orders_placed"]):
                problems.append(f"orders placed: expected {expected['orders_placed']}, got {placed}")
        if "order_status" in expected and customer is not None:
            status = self._rows("SELECT status FROM orders WHERE order_id = :o", o=customer["order_id"])[0]["status"]
            if status != expected["order_status"]:
                problems.append(f"order {customer['order_id']}: expected {expected['order_status']}, got {status}")
        if "tickets" in expected or "ticket_says" in expected:
            # this conversation's tickets: its customer's, or (not verified) those in its own words
            owner = customer["customer_id"] if customer else None
            said = [self._fill(t.user, customer) for t in conversation.turns]
            tickets = [row for row in self._rows("SELECT reference, description, customer_id FROM tickets "
                                                 "WHERE created_at >= :t", t=started)
                       if row["reference"] not in tickets_before]
            mine = [t for t in tickets if (t["customer_id"] == owner if owner else
                                           any(line.strip() and line.strip() in str(t["description"]) for line in said))]
            if "tickets" in expected and len(mine) != int(expected["tickets"]):
                problems.append(f"tickets: expected {expected['tickets']}, got {len(mine)}: {mine}")
            for pattern in expected.get("ticket_says") or []:
                if not any(re.search(pattern, str(t["description"]), re.IGNORECASE) for t in mine):
                    problems.append(f"no new ticket says /{pattern}/: {mine}")
        if "handoff" in expected:
            handed = bool(self._rows("SELECT COUNT(*) AS n FROM touchpoints WHERE conversation_id = :c "
                                     "AND handoff = :h", c=conversation_id, h=True)[0]["n"])
            if handed != bool(expected["handoff"]):
                problems.append(f"handoff: expected {expected['handoff']}, got {handed}")
        return problems


def play_all(player: Player, conversations: List[Conversation], parallel: int = 3) -> Dict[str, Result]:
    """Every conversation, several at a time (each has its own sender, customer and tickets)."""
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        results = list(pool.map(player.play, conversations))
    return {result.conversation.id: result for result in results}


def comparable_text(text: str) -> str:
    """Text as a reader compares it: ZWNJ or a space between word parts alike, Arabic ي/ك as
    Persian (so «می‌بند» matches a check written «می بند»)."""
    return text.replace("\u200c", " ").replace("ي", "ی").replace("ك", "ک")


def success_rates(results: List[Result]) -> Dict[str, Dict[str, Any]]:
    """Successes / total per repair kind and language, and overall."""
    table: Dict[str, Dict[str, Any]] = {}
    for result in results:
        for key in (f"{result.conversation.kind}/{result.conversation.language}", f"{result.conversation.kind}/all",
                    f"all/{result.conversation.language}", "all/all"):
            entry = table.setdefault(key, {"ok": 0, "total": 0})
            entry["total"] += 1
            entry["ok"] += int(result.ok)
    for entry in table.values():
        entry["rate"] = entry["ok"] / entry["total"] if entry["total"] else None
    return table


def has_persian(text: str) -> bool:
    return has_persian_letters(text)
