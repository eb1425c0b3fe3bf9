"""What a customer's message does to the conversation: the dialogue move.

The NLU says what a message is about (intent, entities); the move says what
it does *here*, given the question the bot asked last:

| move        | when                                                        | the dialogue then                      |
|-------------|-------------------------------------------------------------|----------------------------------------|
| `answer`    | the message answers the active form's question             | the form goes on (validates, asks next) |
| `interrupt` | a side question or chitchat inside a form                   | answers it, then the form asks again    |
| `leave`     | a new request, or stop / thanks / bye / a person, in a form | leaves the form, starts what was asked  |
| `repeat`    | "what?", «چی گفتی؟»                                         | says its last answer again              |
| `redo`      | "sorry, I meant the A55", "and the S24?" after an answer;   | redoes that answer with the new value;  |
|             | a bare product name or order number                         | shows the product / tracks the order    |
| `clarify`   | one word that could mean several requests ("order", «سفارش») | asks which, a button for each          |
| `hold`      | "one sec, let me find it" while asked for a number          | "take your time", the question stays    |
| `start`     | anything else outside a form                                | the intent's rule or form (one or more) |

`decide` is a pure function of the parsed message and a `Context` read from
the conversation, so it is tested without Rasa. The action server calls it
once per message (actions/journey.py) and stores the result in the
`dialogue_move` slot; `bot.dialogue.policy.DialogueRepairPolicy` turns the
slot into actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot.dialogue import cues
from bot.dialogue.expectations import (
    ANSWERS, CHITCHAT, CLEAR_REQUEST, CLEAR_REQUEST_IN_FREE_TEXT, CLOSING, CONFIRMATION_SLOTS, FALLBACK, HUMAN,
    PRODUCT_QUESTIONS, QUESTIONS, REQUESTS, SHORT_MESSAGE_WORDS, VERIFICATION_SLOTS, expectation,
)

ANSWER, INTERRUPT, LEAVE, REPEAT, REDO, START, CLARIFY, HOLD = (
    "answer", "interrupt", "leave", "repeat", "redo", "start", "clarify", "hold")
KINDS = (ANSWER, INTERRUPT, LEAVE, REPEAT, REDO, START, CLARIFY, HOLD)


def read_already(kinds_newest_first: Iterable[str]) -> bool:
    """Whether the customer's latest message was read already in this turn (given the conversation's
    event kinds, newest first): an action ran, or a form was activated, after it.

    Rasa runs slot extraction, and with it `action_validate_slot_mappings`, again when a form is
    activated later in the same turn (after a side question's answer, or when the dialogue moved to
    another form). The message was read once, right after it arrived; reading it again inside
    another form would take it for that form's answer. The action answers such a call with nothing
    (actions/journey.py), and the Rasa server does not make it (bot/runtime/message_costs.py)."""
    for kind in kinds_newest_first:
        if kind == "user":
            return False
        if kind in ("action", "active_loop"):
            return True
    return False


# Questions answered by digits: words without any are something else.
DIGIT_SLOTS = frozenset({"phone_number", "otp_code", "order_id"})
# Inside such a question, a request or side question this likely is taken as one.
SOME_REQUEST = 0.4
# The response that says what the shop does with a customer's number and code (no intent of its own:
# the spec's intent catalogue is fixed, so a cue in the words starts it, bot.dialogue.cues.asks_about_data_use).
DATA_USE_REPLY = "utter_data_use"
# Intents that say little of their own: the words are read against what was just shown or said.
VAGUE_INTENTS = frozenset({"inform", "deny", FALLBACK})
# Forms that only answer a question (no order, no account): left once the customer asks other things.
QUESTION_FORMS = frozenset({"compare_form", "product_price_form", "product_details_form"})
# "You're welcome, have a good day": thanks with nothing more to ask.
WELCOME_GOODBYE_REPLY = "utter_welcome_goodbye"
# "I see — I'll note that": what is wrong with an order, said when asked for the number that finds it.
NOTED_REPLY = "utter_noted_first_verify"
# Goals about one of the customer's orders, whose form starts with the customer's number.
ORDER_INTENTS = ("track_order", "return_item", "cancel_order", "change_order")
# A review is opinions in any words: only a near-certain request leaves it ("charges my phone 4
# times" is a review, not a payment problem).
FREE_TEXT_THRESHOLDS = {"review_text": 0.97}
# A clause of a message is taken as a switch to another request when the clause model is this sure
# of it, or the whole message's ranking gives its intent at least SEEN_IN_MESSAGE.
TRUSTED_CLAUSE, SEEN_IN_MESSAGE = 0.75, 0.2
# A question the NLU did not understand but gave this much to one plain question (and most of all).
HALF_UNDERSTOOD_QUESTION = 0.4
# Two requests the whole message reads as this much each: it asks both.
BOTH_READINGS = 0.4
# A last clause ends the message with thanks or goodbye when the clause model is this sure.
SURE_CLOSING_CLAUSE = 0.9
# In a message that thanks or says goodbye, a request clause naming nothing must be this sure.
SURE_CLAUSE = 0.95
# A question not understood for sure, but leaning this much to a one-action question, is taken as it.
LEANING = 0.3
# A follow-up ("and the email?") continues the last question unless the NLU is this sure it is another.
CLEAR_FOLLOW_UP = 0.9
# A question about the goal of a form that takes free text (asked why they return it, the
# customer asks how refunds work): answered by this question's action, then the form asks again.
QUESTION_ABOUT_GOAL = {"return_item": "ask_warranty", "cancel_order": "ask_warranty", "change_order": "ask_shipping"}

# Goals a bare product name or a correction can be redone for ("and the S24?").
PRODUCT_FOLLOW_UPS = ("ask_price", "ask_product_details", "ask_warranty", "ask_usage_help")
ORDER_FOLLOW_UPS = ("track_order",)
# Policy questions a city or a way to pay is the follow-up of ("and to Mashhad?", "what about crypto?");
# the message's `city` and `payment_way`.
PLACE_FOLLOW_UPS = ("ask_shipping", "ask_payment_methods")
# Ways to pay that are no product, order or other request in any message that names them.
UNUSUAL_PAYMENT_WAYS = frozenset({"crypto", "paypal", "foreign_card"})
# A problem told next to one of these requests is its reason ("I want to return it, it stopped
# working"): the request is what the customer asks for, not a ticket about the problem.
REASON_FOR = {"report_problem": frozenset({"return_item", "cancel_order", "change_order"})}
# What else a correction or follow-up can give an earlier request.
FOLLOW_UP_ENTITY = {"compare_products": "product", "give_feedback": "rating", "apply_discount_code": "discount_code"}


@dataclass(frozen=True)
class Move:
    """A dialogue move and the intents it routes, in order (`leave stop`, `start ask_shipping ask_warranty`)."""

    kind: str
    intents: Tuple[str, ...] = ()

    def encode(self) -> str:
        return " ".join((self.kind,) + self.intents)

    @classmethod
    def decode(cls, value: Any) -> Optional["Move"]:
        parts = str(value or "").split()
        if not parts or parts[0] not in KINDS:
            return None
        return cls(parts[0], tuple(parts[1:]))


@dataclass(frozen=True)
class Message:
    """The parts of a parsed customer message the dialogue looks at."""

    intent: str
    confidence: float
    text: str
    entities: Mapping[str, List[str]] = field(default_factory=dict)
    requests: Tuple[str, ...] = ()   # intents of the message's clauses, in order (bot/nlu/requests.py)
    clause_confidences: Tuple[float, ...] = ()   # how sure the clause model is of each of them
    ranking: Tuple[Tuple[str, float], ...] = ()   # the NLU's likeliest intents, best first
    # read from the shop's words, not by the NLU (bot.dialogue.mentions, actions/turns.py)
    city: Optional[str] = None          # a city of shop_policy.yml's list ("and to Mashhad?")
    payment_way: Optional[str] = None   # a way to pay ("what about crypto?")

    @classmethod
    def from_parse(cls, parse: Mapping[str, Any]) -> "Message":
        intent = parse.get("intent") or {}
        entities: Dict[str, List[str]] = {}
        for entity in parse.get("entities") or []:
            if entity.get("value") is not None:
                entities.setdefault(str(entity.get("entity")), []).append(str(entity.get("value")))
        clauses = [r for r in parse.get("requests") or [] if r.get("intent")]
        requests = tuple(str(r.get("intent")) for r in clauses)
        clause_confidences = tuple(float(r["confidence"]) if r.get("confidence") is not None else 1.0 for r in clauses)
        name, confidence = str(intent.get("name") or FALLBACK), float(intent.get("confidence") or 0.0)
        if name in REQUESTS | QUESTIONS and confidence >= SOME_REQUEST and name not in requests:
            # «نه ولش، اول بگو سفارش ۱۰۰۰۷۳ کجاست»: the clause the splitter could not read is the
            # request the whole message was read as
            unread = [i for i, clause in enumerate(requests) if clause in (FALLBACK, "out_of_scope")]
            if unread:
                requests = requests[:unread[-1]] + (name,) + requests[unread[-1] + 1:]
                clause_confidences = clause_confidences[:unread[-1]] + (confidence,) + \
                    clause_confidences[unread[-1] + 1:]
        ranking = tuple((str(r.get("name")), float(r.get("confidence") or 0.0))
                        for r in parse.get("intent_ranking") or [] if r.get("name"))
        return cls(intent=str(intent.get("name") or FALLBACK), confidence=float(intent.get("confidence") or 0.0),
                   text=str(parse.get("text") or ""), entities=entities, requests=requests,
                   clause_confidences=clause_confidences, ranking=ranking)

    def likeliest(self, among: FrozenSet[str]) -> Tuple[Optional[str], float]:
        """The likeliest intent of the ranking among `among` (what a "not understood" leaned to)."""
        return next(((name, p) for name, p in self.ranking if name in among), (None, 0.0))

    @property
    def ends_closing(self) -> bool:
        """Its last clause thanks or says goodbye ("…, I'll come back later. thanks!") — surely, or
        the whole message was read that way too ("…, im confused" is no goodbye)."""
        if not self.requests or self.requests[-1] not in CLOSING:
            return False
        sure = self.clause_confidences[-1] if self.clause_confidences else 1.0
        return sure >= SURE_CLOSING_CLAUSE or dict(self.ranking).get(self.requests[-1], 0.0) >= SEEN_IN_MESSAGE \
            or not self.ranking


@dataclass(frozen=True)
class Context:
    """The conversation as it stood before the message."""

    active_form: Optional[str] = None
    requested_slot: Optional[str] = None
    goal: Optional[str] = None                 # goal in progress (the active form's)
    goal_of_intent: Mapping[str, str] = field(default_factory=dict)   # journey.yml intent -> goal
    last_request: Optional[str] = None         # intent of the latest goal the customer asked for
    filled: FrozenSet[str] = frozenset()      # the active form's slots that already have a value
    has_choices: bool = False                  # several products were just listed or compared
    has_product: bool = False                  # a product was talked about (the `product` slot)
    options: Tuple[str, ...] = ()              # the requests a clarification just offered
    points_at_products: bool = False           # the words point at catalogue products without naming one
    picked_from_shown: bool = False            # the product was picked among those just shown ("the second")
    names_several_shown: bool = False          # the words fit several of those just shown ("the samsung one")
    side_questions: int = 0                    # the customer's latest messages in a row that were side questions


# Details asked in price words («… چنده؟», "how much is …") when the NLU leans this much to the price too.
PRICE_WORDS_LEANING = 0.1


def decide(message: Message, context: Context) -> Move:
    """The move of `message` in `context` (see the module docstring)."""
    if message.intent == "ask_product_details" and cues.asks_price(message.text) \
            and dict(message.ranking).get("ask_price", 0.0) >= PRICE_WORDS_LEANING:
        message = replace(message, intent="ask_price")   # the details say the price too; the goal is the price
    if message.intent == "switch_language" and not cues.names_a_language(message.text):
        # "I don't understand what you want from me" is no request for Persian
        message = replace(message, intent=FALLBACK)
    if message.intent == "switch_language" and cues.asks_about_a_feature(message.text) \
            and dict(message.ranking).get("ask_product_details", 0.0) >= LEANING:
        # «این کیبورد فارسی هم داره؟», "does it have persian letters": a product's feature, not the reply language
        message = replace(message, intent="ask_product_details")
    if cues.asks_to_repeat(message.text) and message.intent not in HUMAN:
        return Move(REPEAT)
    if context.active_form and cues.asks_what_next(message.text) and message.intent not in HUMAN:
        return Move(REPEAT)   # the last answer is the form's question
    if cues.asks_about_data_use(message.text) and message.intent not in HUMAN and not message.entities:
        # "why do you need my number?": what the number and the code are for, then the question again
        return Move(INTERRUPT if context.active_form else START, (DATA_USE_REPLY,))
    move = _inside_form(message, context) if context.active_form else _outside_form(message, context)
    if move.kind == INTERRUPT and context.active_form in QUESTION_FORMS and context.side_questions >= 1 \
            and not any(i.startswith("utter_") or i in CLOSING | CHITCHAT for i in move.intents):
        # another question while "which product?" has waited through one already: the customer has
        # moved on, and the question is not asked again after every answer (an order's still is)
        return Move(LEAVE, move.intents)
    if move.kind in (START, LEAVE) and move.intents in (("stop",), ("thank_you",)) and cues.nothing_more(message.text):
        # "no that's all", «فعلا همین، مرسی»: a goodbye (with "you're welcome" to thanks), not "OK —
        # anything else?"
        return Move(move.kind, (WELCOME_GOODBYE_REPLY,) if cues.thanks(message.text) else ("goodbye",))
    return move


def _inside_form(message: Message, context: Context) -> Move:
    slot = context.requested_slot
    expected = expectation(slot)
    intent = message.intent
    same_goal = bool(context.goal) and context.goal_of_intent.get(intent) == context.goal
    answers = set(expected.intents) | ({intent} if same_goal else set())
    threshold = FREE_TEXT_THRESHOLDS.get(slot or "", CLEAR_REQUEST_IN_FREE_TEXT) if expected.free_text \
        else CLEAR_REQUEST
    clear = message.confidence >= threshold and intent != FALLBACK
    words = cues.word_count(message.text)
    short = words <= SHORT_MESSAGE_WORDS
    carries_answer = bool(expected.entity and message.entities.get(expected.entity))
    # a phone number, a one-time code or an order number: words without a run of 4+ digits are not one
    # ("only 2 left?" is words); a discount
    # code is one word, not a sentence without a code in it ("what do you sell anyway?")
    wordy = (slot in DIGIT_SLOTS and not cues.looks_like_a_code(message.text)) \
        or (slot == "discount_code" and not carries_answer and words >= 3 and cues.sounds_like_question(message.text))
    closing = intent in CLOSING or message.ends_closing or cues.says_goodbye(message.text)

    if intent in HUMAN and (clear or (short and not expected.free_text)):
        return Move(LEAVE, (intent,))
    if intent == "apply_discount_code" and context.goal and context.goal == context.goal_of_intent.get("place_order") \
            and message.confidence >= SOME_REQUEST and slot != "discount_code" \
            and (message.entities.get("discount_code")
                 or (slot not in DIGIT_SLOTS and not cues.asks_for_a_code(message.text))):
        # "can I use SPRING15 on this?" while ordering: for this order (noted, then the form goes on)
        return Move(INTERRUPT, ("apply_discount_code",))
    if context.goal and context.goal in {context.goal_of_intent.get(i) for i in ("cancel_order", "return_item",
                                                                                 "payment_problem")} \
            and cues.asks_about_refund(message.text) and not carries_answer and intent not in HUMAN:
        # "wait will I get my money back? how long" asked to confirm a cancellation: how refunds work
        # (the returns policy), then the question again — not a return started instead
        return Move(INTERRUPT, ("ask_warranty",))
    if slot == "phone_number" and cues.code_did_not_arrive(message.text) and not carries_answer \
            and intent not in HUMAN:
        return Move(ANSWER)   # «یه بار دیگه بفرست» after "type your number again": the code sent again
    if slot == "otp_code" and (cues.code_did_not_arrive(message.text) or cues.says_wrong_number(message.text)
                               or (cues.looks_like_a_code(message.text) and cues.is_correction(message.text))) \
            and intent not in HUMAN:
        # «کد نیومد که», "sorry wrong number", «ببخشید اشتباه زدم، ۴۹۵۱۳۱»: the form's own business (a new
        # code, the number again, the code) — not a discount code or an order change
        return Move(ANSWER)
    if slot == "otp_code" and cues.asks_which_code(message.text) and not carries_answer:
        return Move(ANSWER)   # "what code??": the form says which (the one just texted), whatever the NLU read
    if slot == "discount_code" and cues.looks_like_code(message.text) and intent not in CLOSING:
        return Move(ANSWER)   # "NOWRUZ" asked for the code is a code (the NLU may read a sale in it)
    if slot == "discount_code" and wordy and intent == "apply_discount_code" and not message.entities.get("product"):
        return Move(INTERRUPT, ("ask_promotions",))   # "where do I get a code?": the offers and their codes
    if cues.cancels_this(message.text) and context.goal != context.goal_of_intent.get("cancel_order") \
            and slot not in CONFIRMATION_SLOTS and not message.entities.get("order_id"):
        return Move(LEAVE, ("stop",))   # "cancel" while asked for a phone number: not "cancel my order"
    switch_clause = _other_request_among_clauses(message, context)   # "…, cancel it altogether"
    asks_other = (intent in REQUESTS and not same_goal and message.confidence >= SOME_REQUEST) or bool(switch_clause)
    if cues.switches_goal(message.text) and message.confidence >= SOME_REQUEST and not carries_answer \
            and ((intent in REQUESTS and not same_goal) or intent in QUESTIONS) \
            and not _corrects_the_form(message, context):   # "no, make it the Tune 520 instead" corrects
        # "instead of a review I just want to return it", "scratch that, how do I set up my camera?"
        return Move(LEAVE, (intent,))
    if cues.ends_with_instead(message.text) and message.confidence >= SOME_REQUEST and not carries_answer \
            and ((intent in REQUESTS and not same_goal) or intent == "browse_products") \
            and not _corrects_the_form(message, context):
        # "show me your headphones instead?" leaves the discount code for browsing; "a number I can call
        # instead?" is a side question (answered, then the form goes on)
        return Move(LEAVE, (intent,))
    if intent == "browse_products" and clear and slot not in ("product", "products") and not carries_answer \
            and not cues.digresses_first(message.text) and not _corrects_the_form(message, context):
        # "show me your laptops" asked for a discount code or a phone number: browsing, not a side
        # question (the code can be sent any time); "first show me…" comes back to the question
        return Move(LEAVE, (intent,))
    wanted_instead = _last_clause_for_another_goal(message, context)
    if cues.switches_goal(message.text) and not carries_answer and wanted_instead \
            and not _corrects_the_form(message, context):
        # «فعلا شماره نمیدم، فقط میخواستم قیمتشو بدونم»: the whole message is unsure, its last clause is not
        return Move(LEAVE, (wanted_instead,))
    question_after_stop = _question_after_stop(message)
    if question_after_stop and not carries_answer:
        return Move(LEAVE, (question_after_stop,))   # "ok skip that, what payment methods do you take?"
    if cues.ends_with_goodbye(message.text) and not carries_answer and not cues.sounds_like_question(message.text) \
            and not (slot in DIGIT_SLOTS and cues.has_digits(message.text)) \
            and not (slot in CONFIRMATION_SLOTS and cues.yes_or_no(message.text) is not None):
        return Move(LEAVE, ("goodbye",))   # "no that's it, I'll sort it out at checkout. bye"
    if expected.free_text and cues.nothing_to_do(message.text) and not carries_answer \
            and (intent in CLOSING | ANSWERS or message.ends_closing):
        return Move(LEAVE, ("thank_you",) if intent == "thank_you" or message.ends_closing else ("stop",))
    if slot == "product" and intent in PRODUCT_QUESTIONS and not same_goal and cues.starts_with_no(message.text) \
            and message.confidence >= CLEAR_REQUEST:
        # «na aslan, gheymate airpod chande?» asked what to buy: the price, not an order of it
        return Move(LEAVE, (intent,))
    if slot in ("product", "products") and intent in CLOSING and message.confidence >= CLEAR_REQUEST \
            and not carries_answer:
        # a product name is never a thanks or a goodbye: «راستش باید برم، فعلا خداحافظ» when asked which
        return Move(LEAVE, ("goodbye",) if cues.says_goodbye(message.text) else (intent,))
    other_clause = any(clause in REQUESTS | QUESTIONS and context.goal_of_intent.get(clause) != context.goal
                       for clause in message.requests)
    if intent in CLOSING | {"deny"} and cues.wants_to_stop(message.text) and not carries_answer and not asks_other \
            and not other_clause and slot not in CONFIRMATION_SLOTS:
        # "merci felan na, badan kharid mikonam": not now — whatever the question was
        return Move(LEAVE, ("goodbye",) if cues.says_goodbye(message.text)
                    else ("thank_you",) if intent == "thank_you" and cues.thanks(message.text) else ("stop",))
    if slot in CONFIRMATION_SLOTS and cues.yes_or_no(message.text) is False and cues.wants_to_stop(message.text) \
            and not asks_other:
        return Move(ANSWER)   # "actually no, I'll keep it" to "cancel it?": the no, said as such ("not cancelled")
    if slot in CONFIRMATION_SLOTS and cues.yes_or_no(message.text) is False and intent in CLOSING | {"deny"} \
            and not asks_other and not cues.says_goodbye(message.text):
        return Move(ANSWER)   # "nah I changed my mind, keep it" to "cancel it?": the no ("not cancelled")
    if cues.wants_to_stop(message.text, strong_only=True) and not carries_answer and not asks_other:
        # "you know what, I'll keep it" — but "never mind that, cancel my order" is a new request
        if intent in QUESTIONS and message.confidence >= CLEAR_REQUEST and cues.sounds_like_question(message.text):
            return Move(LEAVE, (intent,))   # "actually nvm, what's the warranty on the macbook air": that answer
        return Move(LEAVE, ("goodbye",) if cues.says_goodbye(message.text) else ("stop",))
    if slot not in CONFIRMATION_SLOTS and cues.refuses(message.text) and not carries_answer:
        return Move(LEAVE, ("stop",))   # "no thanks, I'll check the website myself"
    if slot == "change_request" and cues.looks_like_address_or_time(message.text) \
            and not cues.sounds_like_question(message.text):
        return Move(ANSWER)   # "deliver it on saturday between 10 and 12" is the change, whatever the NLU says
    clear_switch = bool(switch_clause) or (intent in REQUESTS and not same_goal and clear)
    if wordy and cues.asks_to_wait(message.text) and not clear_switch \
            and not (intent in QUESTIONS and message.confidence >= SOME_REQUEST and cues.sounds_like_question(message.text)):
        return Move(HOLD)   # "hold on, what's the warranty on it" is a side question, not "wait"
    if slot in CONFIRMATION_SLOTS and not carries_answer and cues.yes_or_no(message.text) is None \
            and (cues.says_goodbye(message.text) or cues.wants_to_stop(message.text)):
        # "hmm I'll think about it, bye" when asked to confirm: nothing is done, and goodbye
        return Move(LEAVE, ("goodbye",) if cues.says_goodbye(message.text) else ("stop",))
    if slot == "confirm_order" and cues.new_quantity(message.text):
        return Move(ANSWER)   # "oh make it 3 please": the new quantity, and the confirmation asked again
    if _corrects_the_form(message, context):
        return Move(ANSWER)   # "no wait, make it the Tune 520": the new value replaces the old one
    if intent == "deny" and slot not in CONFIRMATION_SLOTS and not carries_answer and words <= 3:
        return Move(LEAVE, ("stop",))   # "no" to "which order?" / "your number?": the customer does not want to go on
    stop_words = intent != "stop" or slot != "otp_code" or words <= 3   # "which code? I'm confused" is not a stop
    if wordy and not clear_switch and ((closing and stop_words) or cues.wants_to_stop(message.text)):
        if intent == "thank_you" and slot in VERIFICATION_SLOTS and not cues.says_goodbye(message.text) \
                and not cues.nothing_more(message.text) \
                and (short if slot == "otp_code" else words <= 3 and not cues.refuses(message.text)
                     and not cues.wants_to_stop(message.text)):
            # politeness while the code is on its way, or for being asked the number: "you're welcome",
            # and the question again
            return Move(INTERRUPT, (intent,))
        if cues.says_goodbye(message.text):
            return Move(LEAVE, ("goodbye",))
        thanks = intent == "thank_you" or (message.ends_closing and message.requests[-1] == "thank_you") \
            or cues.thanks(message.text)   # «باشه ممنون، بعدا سفارش میدم»: thanked, not dropped
        # "thanks, that's all I needed" is thanks; "no thanks, never mind" is a stop
        polite = thanks and not cues.refuses(message.text) and not cues.wants_to_stop(message.text, strong_only=True)
        return Move(LEAVE, ("thank_you",) if polite else ("stop",))
    # "no, don't place it, my husband already bought one" is a no, not a problem report; "no, I want to
    # track my order" (a clause the clause model is sure of) is a switch
    plain_no = slot in CONFIRMATION_SLOTS and cues.yes_or_no(message.text) is False and intent not in REQUESTS \
        and not cues.switches_goal(message.text) and _clause_confidence(message, switch_clause) < TRUSTED_CLAUSE
    if switch_clause and not plain_no and (wordy or slot in CONFIRMATION_SLOTS or cues.wants_to_stop(message.text)
                                           or (cues.is_correction(message.text) and not carries_answer)):
        # (but «ببخشید اشتباه زدم، شمارم ۰۹۱۲… هست» corrects the answer: its "mistake" is no change request)
        # (also "forget the review, where is order 100151?" inside any question)
        # "no wait, I don't want to cancel, I want to change the address": the clause that asks
        return Move(LEAVE, (switch_clause,))
    if intent not in answers:
        # "thanks — and what's the warranty?" inside a form: the questions, then the form
        asked = _several_requests(message)
        if asked and set(asked) != {intent} and all(i in QUESTIONS | CHITCHAT for i in asked):
            return Move(INTERRUPT, asked)
    order_goals = {context.goal_of_intent.get(i) for i in ORDER_INTENTS} - {None}
    if slot in VERIFICATION_SLOTS and context.goal in order_goals and intent == "report_problem" \
            and not carries_answer and not cues.has_digits(message.text) and not closing \
            and not cues.wants_to_stop(message.text) and not cues.switches_goal(message.text):
        # "the headphones I got last week, they hurt my ears" when asked the number for a return:
        # what the return is about (kept as its reason), not another request; the number is asked again
        return Move(INTERRUPT, (NOTED_REPLY,))
    if wordy and intent not in ANSWERS and intent != FALLBACK and message.confidence >= SOME_REQUEST:
        # "what payment methods do you take?" while asked for a phone number
        if intent in QUESTIONS | CHITCHAT | PRODUCT_QUESTIONS:
            return Move(INTERRUPT, (intent,))
        if intent in REQUESTS and not same_goal:
            return Move(LEAVE, (intent,))
    if wordy and same_goal and intent in QUESTION_ABOUT_GOAL and cues.sounds_like_question(message.text) \
            and not carries_answer:
        # «اگه پسش بدم پولم کی برمیگرده؟» while asked for the phone number of a return: the policy, then the number
        return Move(INTERRUPT, (QUESTION_ABOUT_GOAL[intent],))
    if wordy and intent == FALLBACK and cues.sounds_like_question(message.text) \
            and not _ABOUT_THE_QUESTION.search(cues.canonical(message.text)):   # "which code?" is about the question
        leaning, likelihood = message.likeliest(QUESTIONS | CHITCHAT)
        if leaning and likelihood >= LEANING:   # «روشهای پرداختتون چیه؟» half understood, asked for a number
            return Move(INTERRUPT, (leaning,))
    if expected.free_text and cues.sounds_like_question(message.text):
        # "how long does the refund take?" while asked why: a question, not the reason
        if intent in answers and intent in QUESTION_ABOUT_GOAL:
            return Move(INTERRUPT, (QUESTION_ABOUT_GOAL[intent],))
        if intent in QUESTIONS | CHITCHAT and message.confidence >= SOME_REQUEST:
            return Move(INTERRUPT, (intent,))
        if intent in PRODUCT_QUESTIONS and message.entities.get("product") and message.confidence >= SOME_REQUEST \
                and expected.entity != "product" and slot != "review_text":
            # "instead can you tell me about the galaxy s24?" asked for a rating or a description
            return Move(INTERRUPT, (intent,))
    if slot == "products" and clear and intent in PRODUCT_QUESTIONS and intent != "compare_products" \
            and message.entities.get("product") and not cues.compares(message.text) \
            and cues.sounds_like_question(message.text):
        return Move(INTERRUPT, (intent,))   # "how much is the nova 12 by the way" while asked what to compare
    if slot in ("product", "products") and not carries_answer and not context.points_at_products \
            and intent not in answers and cues.sounds_like_question(message.text):
        # "wait, is there a discount code?" while asked which product: a question, never a product name
        leaning, likelihood = message.likeliest(QUESTIONS | CHITCHAT)
        if leaning and likelihood >= SEEN_IN_MESSAGE:
            return Move(INTERRUPT, (leaning,))
        if intent in REQUESTS and not same_goal and message.confidence >= SOME_REQUEST:
            return Move(LEAVE, (intent,))
    if wordy and intent == FALLBACK and cues.sounds_like_question(message.text) \
            and not _ABOUT_THE_QUESTION.search(cues.canonical(message.text)):
        # «روشهای پرداختتون چیه راستی؟» while asked for a phone: a question the NLU half-read, not a
        # wrong phone number — answered when one question stands out
        leaning, likelihood = message.likeliest(QUESTIONS)
        if leaning and likelihood >= 0.25:
            return Move(INTERRUPT, (leaning,))
    if intent in answers or intent == FALLBACK:
        return Move(ANSWER)
    if carries_answer and not (clear and intent in REQUESTS and intent not in PRODUCT_QUESTIONS):
        return Move(ANSWER)
    if intent in CLOSING and (short or (clear and not expected.free_text)):
        if cues.says_goodbye(message.text):
            return Move(LEAVE, ("goodbye",))   # "never mind, bye": a goodbye, not "anything else?"
        if intent == "thank_you" and slot == "otp_code":
            return Move(INTERRUPT, (intent,))   # politeness while the code is on its way
        return Move(LEAVE, (intent,))
    if not clear:
        return Move(ANSWER)   # not sure it is anything else: the form's validation reads it
    if intent in CHITCHAT or intent in QUESTIONS:
        return Move(INTERRUPT, (intent,))
    if intent in PRODUCT_QUESTIONS and message.entities.get("product"):
        return Move(INTERRUPT, (intent,))
    if intent in REQUESTS:
        return Move(LEAVE, (intent,))
    return Move(ANSWER)


def _other_request_among_clauses(message: Message, context: Context) -> Optional[str]:
    """The last clause of the message that asks for another goal's form, if any — one the clause
    model is sure of, or the classifier of the whole message saw too ("hmm which code?" read as
    a comparison by the clause model alone is not a switch)."""
    confidences = message.clause_confidences or (1.0,) * len(message.requests)
    seen = dict(message.ranking)
    # "hmm which code? …" asked for the code talks about the question: only a clause the model is
    # quite sure of (or the whole message's reading) leaves it
    about_the_question = context.requested_slot in DIGIT_SLOTS \
        and bool(_ABOUT_THE_QUESTION.search(cues.canonical(message.text)))
    clause_bar = SURE_CLAUSE if about_the_question else TRUSTED_CLAUSE
    for intent, sure in reversed(list(zip(message.requests, confidences))):
        if REASON_FOR.get(intent, frozenset()) & set(message.requests):
            continue   # "I want to return it, it stopped working": the return, with its reason
        trusted = sure >= clause_bar or seen.get(intent, 0.0) >= SEEN_IN_MESSAGE or intent == message.intent \
            or not message.ranking
        if message.intent in ("thank_you", "goodbye") and intent != message.intent and not message.entities \
                and sure < SURE_CLAUSE:
            trusted = False   # "thanks, that's all, I'll check the app": no order in "check the app"
        if trusted and intent in REQUESTS and context.goal_of_intent.get(intent) not in (None, context.goal):
            if intent in PRODUCT_QUESTIONS and message.intent in PRODUCT_QUESTIONS and message.intent != intent \
                    and message.confidence >= CLEAR_REQUEST \
                    and context.goal_of_intent.get(message.intent) not in (None, context.goal):
                # "skip that. which is cheaper, the X or the Y?": the whole message's reading of the
                # product question is surer than one clause's (a comparison, not one product's details)
                return message.intent
            return intent
    return None


# Words about the question being asked ("which number?", «کدوم کد؟»): not another question.
_ABOUT_THE_QUESTION = re.compile(r"\b(?:number|phone|mobile|code|sms|text|order)\b|شماره|کد|موبایل|پیامک|سفارش")


def _last_clause_for_another_goal(message: Message, context: Context) -> Optional[str]:
    """The last clause's request when it is a question or another goal's request the clause model
    reads with some confidence (a message that says "instead" / «فقط میخواستم» before it)."""
    if len(message.requests) < 2:
        return None
    clause, sure = message.requests[-1], (message.clause_confidences or (1.0,) * len(message.requests))[-1]
    if sure < 0.5 or clause not in REQUESTS | QUESTIONS:
        return None
    return clause if context.goal_of_intent.get(clause) not in (None, context.goal) or clause in QUESTIONS else None


def _clause_confidence(message: Message, intent: Optional[str]) -> float:
    """How sure the clause model is of the last clause that asks for `intent` (0 when none does)."""
    confidences = message.clause_confidences or (1.0,) * len(message.requests)
    return next((sure for clause, sure in reversed(list(zip(message.requests, confidences))) if clause == intent), 0.0)


def _question_after_stop(message: Message) -> Optional[str]:
    """The question a message asks after dropping the current one ("scratch that, how do I…?")."""
    clauses = message.requests
    if len(clauses) >= 2 and "stop" in clauses[:-1] and clauses[-1] in QUESTIONS:
        return clauses[-1]
    return None


def _corrects_the_form(message: Message, context: Context) -> bool:
    """The message gives a new value for something the form already has, in words that correct
    ("instead", «منظورم»): a product, an order number, a phone number."""
    if not cues.is_correction(message.text):
        return False
    return any(expectation(slot).entity and message.entities.get(str(expectation(slot).entity))
               for slot in context.filled if slot != context.requested_slot)


def _policy_follow_up(message: Message, context: Context) -> Optional[Move]:
    """"what about crypto?" after the ways to pay, "and to Mashhad?" after shipping, "do you take
    bitcoin?" or «فردا بازین؟» anywhere: the policy question for that way, city, carrier or day (the
    words alone read as a question about the shop, another policy question or a fallback)."""
    intent, last = message.intent, context.last_request
    if message.entities.get("product") or message.entities.get("order_id") or len(set(message.requests)) > 1:
        return None   # (several questions in one message are each answered: bot/nlu/requests.py)
    if intent == "ask_shipping" and message.payment_way:
        # "and do you have cod there?": a way to pay named is about paying, though "cash on delivery" reads as shipping
        return Move(REDO if last == "ask_payment_methods" else START, ("ask_payment_methods",))
    if intent in PLACE_FOLLOW_UPS:
        # "and in Tehran?" after cash on delivery in Shiraz reads as shipping: the payment question again
        if message.city and last in PLACE_FOLLOW_UPS and intent != last and cues.is_follow_up(message.text) \
                and cues.word_count(message.text) <= 4 and not cues.names_shipping_or_paying(message.text):
            return Move(REDO, (last,))
        return None
    short = cues.is_follow_up(message.text) or cues.word_count(message.text) <= 6
    sure_other = intent in REQUESTS - QUESTIONS and message.confidence >= CLEAR_REQUEST_IN_FREE_TEXT
    if short and last in PLACE_FOLLOW_UPS and not sure_other:
        if message.payment_way:   # "what about crypto?" after the ways to pay
            return Move(REDO if last == "ask_payment_methods" else START, ("ask_payment_methods",))
        if cues.names_a_carrier(message.text):   # «با پیک همسفر میشه؟» after shipping to Rasht
            return Move(REDO if last == "ask_shipping" else START, ("ask_shipping",))
        if message.city:
            return Move(REDO, (last,))
    if last == "ask_shipping" and intent in ("ask_price", FALLBACK) and cues.asks_price(message.text) \
            and cues.word_count(message.text) <= 4 and not context.has_product and not context.has_choices:
        return Move(REDO, ("ask_shipping",))   # "how much?" after shipping to Kish: the shipping costs
    if cues.asks_if_open(message.text) and not sure_other and intent not in ("ask_contact_info", "ask_shipping"):
        return Move(START, ("ask_contact_info",))   # «فردا بازین؟», "open on friday?": that day's hours
    if message.payment_way in UNUSUAL_PAYMENT_WAYS and cues.word_count(message.text) <= 8 \
            and not sure_other and intent != "payment_problem":
        return Move(START, ("ask_payment_methods",))
    return None


def _outside_form(message: Message, context: Context) -> Move:
    intent, last = message.intent, context.last_request
    products, orders = message.entities.get("product"), message.entities.get("order_id")
    # "the robot vacuum" is a product named, not "are you a robot?"
    vague = intent in VAGUE_INTENTS or (intent in CHITCHAT and bool(products) and not orders
                                                       and cues.word_count(message.text) <= 4)
    # "and the S24?" may parse as any product question: the earlier question is the one meant
    elliptic = cues.is_follow_up(message.text) or cues.is_correction(message.text)
    clear_other_request = intent in REQUESTS - PRODUCT_QUESTIONS and message.confidence >= CLEAR_REQUEST_IN_FREE_TEXT
    if cues.refuses(message.text) and not products and not orders and not clear_other_request:
        # "actually no thanks, I'll check the website myself"; "no thanks, bye" is a goodbye; «نه دیگه همین
        # بود، مرسی» to "anything else?" is thanks
        if cues.says_goodbye(message.text):
            return Move(START, ("goodbye",))
        return Move(START, ("thank_you",) if cues.thanks(message.text) and cues.nothing_more(message.text) else ("stop",))
    if intent in VAGUE_INTENTS | {"affirm"} and cues.thanks(message.text) and not cues.wants_it(message.text) \
            and not products and not orders and not cues.sounds_like_question(message.text) \
            and not cues.wants_to_stop(message.text):
        return Move(START, ("thank_you",))   # "yes that's the one, thanks" after a price: thanks, not a puzzle
    if intent in ("ask_price", "ask_product_details", "browse_products", FALLBACK) and not products and not orders \
            and cues.accessory_request(message.text):
        # «کاور گوشی ردمی نوت ۱۳ هم دارین؟», "how much is a case for the a55?": the accessories that fit
        # (with their prices), not the device's details nor a product shown before
        return Move(START, ("browse_products",))
    if cues.asks_for_cheaper_others(message.text) and (context.has_product or context.has_choices) and not orders \
            and intent != "browse_products" and intent not in HUMAN:
        # «خیلی گرونه، ارزون‌تر ندارید؟» after a product: cheaper ones of its kind (not a rating of the shop)
        return Move(REDO, ("browse_products",))
    if cues.asks_when_back(message.text) and (context.has_product or products) and not orders \
            and intent not in HUMAN and intent != "ask_product_details":
        # "can u let me know when it's back" after an out-of-stock product: about that product (not tracking)
        return Move(REDO, ("ask_product_details",))
    if cues.asks_about_refund(message.text) and last in ("return_item", "cancel_order") and not orders \
            and intent in ("return_item", "cancel_order", "ask_warranty", FALLBACK):
        # «پولش کی برمیگرده؟» after the return was answered: how refunds work, not the return asked again
        return Move(START, ("ask_warranty",))
    if last == "track_order" and cues.names_a_carrier(message.text) and cues.asks_which(message.text) \
            and not products and intent in ("ask_shipping", "track_order", FALLBACK):
        return Move(REDO, ("track_order",))   # "which courier is it with?" after tracking: that order's carrier
    if last == "ask_promotions" and intent in (FALLBACK, "out_of_scope") and cues.sounds_like_question(message.text) \
            and not products and not orders:
        return Move(REDO, ("ask_promotions",))   # "is the welcome one only for the first order?": the offers again
    policy_follow_up = _policy_follow_up(message, context)
    if policy_follow_up:
        return policy_follow_up
    if intent == "apply_discount_code" and cues.asks_for_a_code(message.text) and not message.entities.get("discount_code"):
        return Move(START, ("ask_promotions",))   # "do you have a discount code?": the offers and their codes
    if cues.asks_variant(message.text) and (products or context.has_product) and not orders \
            and intent in ("browse_products", "ask_product_details", "ask_promotions", "ask_price", "inform", FALLBACK):
        return Move(REDO, ("ask_product_details",))   # "do you have it in black?": its details, and what we know
    if context.options:
        # the answer to "which of these?" in words: the offered request the NLU leans to most
        chosen = message.likeliest(frozenset(context.options))[0] if intent not in context.options else intent
        if chosen and message.likeliest(frozenset(context.options))[1] >= 0.05:
            return Move(REDO, (chosen,))
    unsure_other = intent in QUESTIONS or (intent in CHITCHAT | REQUESTS and message.confidence < CLEAR_REQUEST_IN_FREE_TEXT)
    misread = intent in VAGUE_INTENTS | {"affirm"} or (unsure_other and not cues.sounds_like_question(message.text)) \
        or (intent in CLOSING | HUMAN and message.confidence < CLEAR_REQUEST_IN_FREE_TEXT)   # "gimme that", «یکی میخوام»
    if misread and context.has_product and cues.wants_it(message.text):
        # "ok I'll take it" after a price: that product ("deal", "send it to me": not a question
        # about promotions or a return)
        return Move(REDO, ("place_order",))
    if context.has_choices and (not products or context.picked_from_shown) and not orders \
            and (cues.asks_which(message.text)
                 or (cues.means_one_of_them(message.text) and cues.sounds_like_question(message.text))) \
            and cues.choice_among(message.text) in ("cheapest", "priciest") \
            and intent in ("browse_products", "compare_products", "ask_price", "inform", FALLBACK):
        return Move(REDO, ("browse_products",))   # «کدومش ارزون‌تره؟» after a list: that one of the list
    if context.picked_from_shown and last in PRODUCT_FOLLOW_UPS and elliptic:
        return Move(REDO, (last,))   # «دومی چی؟» after the price of the first: the second's price
    if products and cues.compares(message.text) and (context.has_product or len(products) > 1) \
            and not clear_other_request and intent != "compare_products":
        return Move(REDO, ("compare_products",))   # "is it cheaper than the sony?" after the JBL
    if products and last in PRODUCT_FOLLOW_UPS and last != "ask_usage_help" and intent == "ask_usage_help" \
            and cues.is_follow_up(message.text) and cues.word_count(message.text) <= 4:
        return Move(REDO, (last,))   # «ایرپاد پرو چطور؟» after a price: "what about it", not "how to use it"
    if products and last in PRODUCT_FOLLOW_UPS and not clear_other_request \
            and (vague or elliptic and (intent in PRODUCT_QUESTIONS or cues.is_correction(message.text)
                                        or message.confidence < CLEAR_REQUEST
                                        or (last == "ask_warranty" and intent == "browse_products"))):
        # "and the gopro?" half-read; "and for a washing machine?" after the return policy: its warranty
        return Move(REDO, (last,))
    if orders and not products and last in ORDER_FOLLOW_UPS and (vague or elliptic):
        return Move(REDO, (last,))
    if elliptic and last in PRODUCT_FOLLOW_UPS and not products and context.points_at_products \
            and not clear_other_request:
        return Move(REDO, (last,))   # "hmm, and the jbl?" after a price: the price of a JBL (which one?)
    ranked = dict(message.ranking)
    ordering = intent == "browse_products" and ranked.get("place_order", 0.0) > ranked.get("ask_product_details", 0.0)
    if (vague or ordering) and context.has_choices and cues.buys_choice(message.text) and not clear_other_request \
            and "ask_product_details" not in message.requests:   # «ارزون‌تره رو میخوام، مشخصاتشو بگو»: its details
        return Move(REDO, ("place_order",))   # «ارزون‌تره رو سفارش بده» after a comparison: that one, to order
    if last == "compare_products" and vague and context.has_choices and cues.choice_among(message.text) \
            and not clear_other_request:
        return Move(REDO, ("ask_product_details",))   # «دومی رو بیشتر توضیح بده» after a comparison
    if last == "give_feedback" and elliptic and not products and not orders and not clear_other_request \
            and cues.score_in(message.text) is not None:
        return Move(REDO, (last,))   # "no wait, make it 5", «نه ببخشید ۴» after a score: the new score
    needed = FOLLOW_UP_ENTITY.get(last or "")
    if needed and message.entities.get(needed) and not clear_other_request and (vague or elliptic):
        return Move(REDO, (last,))   # "oops, I meant 5", "sorry, the poco x6, not the redmi" to a comparison
    asks_another = any(clause != last and clause in QUESTIONS | PRODUCT_QUESTIONS for clause in message.requests)
    if cues.is_follow_up(message.text) and last in QUESTIONS and intent != last and not products \
            and not asks_another \
            and message.confidence < (CLEAR_REQUEST_IN_FREE_TEXT if intent in REQUESTS else CLEAR_FOLLOW_UP):
        # "and the email?" after the contact details, «لوازم خانگی چی؟» after the return policy
        return Move(REDO, (last,))
    if vague and context.names_several_shown and not products and not orders:
        # "the samsung one" after a list with two Samsungs: which of them (their details once picked)
        return Move(REDO, (last if last in PRODUCT_FOLLOW_UPS else "ask_product_details",))
    if vague and context.has_choices and not products and cues.choice_among(message.text):
        # "the second one", «ارزون‌تره» after a list: that product, for the question asked before
        return Move(REDO, (last if last in PRODUCT_FOLLOW_UPS else "ask_product_details",))
    if vague:
        # a bare product name, order number or score: show it / look it up / take the score
        if products and not orders and cues.word_count(message.text) <= 8:
            return Move(REDO, ("ask_product_details",))
        if orders and not products and intent == "inform":
            return Move(REDO, ("track_order",))
        if message.entities.get("rating") and intent == "inform" and not products and not orders:
            return Move(REDO, ("give_feedback",))
    if (intent in CLOSING or intent == FALLBACK) and cues.says_goodbye(message.text):
        return Move(START, ("goodbye",))
    if (intent == "affirm" or intent == "deny" and (cues.nothing_more(message.text)
                                                    or not cues.wants_to_stop(message.text))) \
            and cues.thanks(message.text) and not products and not orders \
            and not clear_other_request and not cues.sounds_like_question(message.text):
        # «آره همین، ممنون» after the right answer, «نه دیگه همین بود، مرسی» to "anything else?": you're welcome
        return Move(START, ("thank_you",))
    if (intent in CLOSING or vague or message.confidence < CLEAR_REQUEST_IN_FREE_TEXT) and not products \
            and not orders and not clear_other_request \
            and cues.wants_to_stop(message.text) and not cues.sounds_like_question(message.text):
        # "nah too expensive, thx anyway", «باشه بعدا، مرسی به هر حال»: the customer is done
        return Move(START, ("thank_you",) if "thank_you" in message.requests or intent == "thank_you" else ("stop",))
    if cues.nothing_to_do(message.text) and not products and not orders and not clear_other_request \
            and intent not in REQUESTS - {"report_problem"} and not cues.sounds_like_question(message.text):
        # "oh wait it just started charging again lol, all good" after the problem was logged: nothing to do
        return Move(START, ("thank_you",) if "thank_you" in message.requests or intent == "thank_you" else ("stop",))
    if intent == "give_feedback" and cues.acknowledges(message.text):
        return Move(START, ("affirm",))   # "great" after an answer is a nod, not a rating of the shop
    if intent == FALLBACK and not products and not orders and cues.sounds_like_question(message.text):
        top = next(((name, p) for name, p in message.ranking if name != FALLBACK), (None, 0.0))
        if top[0] in QUESTIONS and top[1] >= HALF_UNDERSTOOD_QUESTION:
            # «روشهای پرداختتون چیه؟» just under the NLU's threshold, leaning most to one plain question:
            # its answer (a wrong one costs a line; "I didn't get that" costs the customer a retry)
            return Move(START, (top[0],))
    options = cues.vague_request(message.text)
    if options and not message.entities:
        return Move(CLARIFY, options)   # "order": place, track, change or cancel one?
    return Move(START, _several_requests(message) or _last_of_two_forms(message) or (intent,))


def _last_of_two_forms(message: Message) -> Tuple[str, ...]:
    """"where is order 100013, and if it hasn't shipped please cancel it": two requests that each
    need a form, both clauses sure and both among the whole message's two readings (so it was not
    understood as either): the last, the one the customer ends on."""
    if message.intent != FALLBACK:
        return ()
    confidences = message.clause_confidences or (1.0,) * len(message.requests)
    seen = dict(message.ranking)
    # a clause the clause model is less sure of counts when the whole message reads as it nearly as
    # much as the other (cancel 0.53, track 0.47: the order number's digits sway the clause model)
    forms = [intent for intent, sure in zip(message.requests, confidences)
             if intent in REQUESTS and seen.get(intent, 0.0) >= SEEN_IN_MESSAGE
             and (sure >= TRUSTED_CLAUSE or (sure >= CLEAR_REQUEST and seen.get(intent, 0.0) >= BOTH_READINGS))]
    return (forms[-1],) if len(set(forms)) == 2 else ()


def _several_requests(message: Message) -> Tuple[str, ...]:
    """The requests of a message that asks several things, in the order to answer them:
    greetings, thanks and plain answers dropped; one-action questions first, as asked;
    at most one request that needs a form, last (two such requests: none of this)."""
    wanted: List[str] = []
    for intent in message.requests:
        if intent in CLOSING | {"greet", FALLBACK} | ANSWERS or intent in wanted:
            continue
        wanted.append(intent)
    wanted = [intent for intent in wanted if not REASON_FOR.get(intent, frozenset()) & set(wanted)]
    if "ask_price" in wanted:   # "do you sell X and how much is it?": the price says if it is in stock too
        wanted = [intent for intent in wanted if intent != "ask_product_details"]
    one_action = [intent for intent in wanted if intent in QUESTIONS | CHITCHAT]
    others = [intent for intent in wanted if intent not in QUESTIONS | CHITCHAT]
    if len(others) > 1:
        return ()
    return tuple(one_action[:3] + others)
