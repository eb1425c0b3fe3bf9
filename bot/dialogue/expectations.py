"""What each kind of customer message is to the dialogue, and what each form question expects.

Two tables the dialogue is built on, kept here so that the action server
(which fills slots) and the dialogue policy (which picks actions) read the
same ones:

* intent groups: closing words, chitchat, one-shot questions answered by a
  single action, requests that open a form of their own;
* slot expectations: for each question a form asks, the entity that answers
  it, the intents whose messages are answers to it, and whether any free text
  is an answer.

`tests/test_dialogue_moves.py` checks that these groups agree with
`data/rules.yml` (which action or form each intent starts) and `domain.yml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, Optional

FALLBACK = "nlu_fallback"

# Close the conversation's current business: leave any form.
CLOSING = frozenset({"goodbye", "thank_you", "stop"})
HUMAN = frozenset({"request_human"})
# Small talk answered by one response; never a goal.
CHITCHAT = frozenset({"greet", "bot_challenge", "out_of_scope", "switch_language"})
# Questions with a one-action answer (no form): answered inside a form, which then resumes.
QUESTIONS = frozenset({"ask_about_company", "ask_contact_info", "ask_promotions", "browse_products", "ask_shipping",
                       "ask_warranty", "ask_payment_methods", "ask_usage_help"})
# Questions answered by a form's goal action once their product is known: inside
# another form they are answered directly when the message names the product.
PRODUCT_QUESTIONS = frozenset({"ask_price", "ask_product_details", "compare_products"})
# Requests that need a form of their own: inside another form they replace it.
REQUESTS = frozenset({"place_order", "apply_discount_code", "payment_problem", "track_order", "change_order",
                      "cancel_order", "return_item", "report_problem", "give_feedback", "leave_review",
                      "ask_referral", "ask_loyalty_points"}) | PRODUCT_QUESTIONS
# Plain answers to a question the bot asked.
ANSWERS = frozenset({"inform", "affirm", "deny"})

# Goals whose action cannot be undone: the customer confirms first.
IRREVERSIBLE = {"place_order_form": "confirm_order", "cancel_order_form": "confirm_cancel",
                "change_order_form": "confirm_change"}
CONFIRMATION_SLOTS = frozenset(IRREVERSIBLE.values())
VERIFICATION_SLOTS = frozenset({"phone_number", "otp_code"})

# A confident NLU result: a message below it inside a form is taken as an answer.
CLEAR_REQUEST = 0.6
# Inside a free-text question a message must be this sure to be taken as another request.
CLEAR_REQUEST_IN_FREE_TEXT = 0.8
# Closing words inside a free-text question are closing only in a short message.
SHORT_MESSAGE_WORDS = 6


@dataclass(frozen=True)
class SlotExpectation:
    """What answers one form question."""

    entity: Optional[str] = None          # an entity of the message that answers it
    intents: FrozenSet[str] = field(default_factory=frozenset)   # intents whose messages answer it
    free_text: bool = False               # any words are an answer (a description, a name, a reason)


def _answers(*intents: str) -> FrozenSet[str]:
    return frozenset(intents) | {"inform"}


SLOTS = {
    "phone_number": SlotExpectation("phone_number", _answers()),
    "otp_code": SlotExpectation(None, _answers(), free_text=False),
    "order_id": SlotExpectation("order_id", _answers()),
    "product": SlotExpectation("product", _answers("place_order", "ask_price", "ask_product_details", "leave_review",
                                                   "ask_usage_help"), free_text=True),
    "products": SlotExpectation("product", _answers("compare_products", "ask_price", "ask_product_details"),
                                free_text=True),
    "discount_code": SlotExpectation("discount_code", _answers("apply_discount_code"), free_text=True),
    "rating": SlotExpectation("rating", _answers("give_feedback", "leave_review"), free_text=True),
    "review_text": SlotExpectation(None, _answers("leave_review", "give_feedback", "report_problem", "affirm", "deny",
                                                  "thank_you"), free_text=True),
    "problem_description": SlotExpectation(None, _answers("report_problem", "payment_problem", "return_item",
                                                          "give_feedback", "ask_usage_help", "deny"), free_text=True),
    "return_reason": SlotExpectation(None, _answers("return_item", "report_problem", "give_feedback", "change_order",
                                                    "deny"), free_text=True),
    "change_request": SlotExpectation(None, _answers("change_order", "ask_shipping"), free_text=True),
    "confirm_order": SlotExpectation(None, _answers("affirm", "deny", "place_order")),
    "confirm_cancel": SlotExpectation(None, _answers("affirm", "deny", "cancel_order")),
    "confirm_change": SlotExpectation(None, _answers("affirm", "deny", "change_order")),
}


def expectation(slot: Optional[str]) -> SlotExpectation:
    """The expectation of a requested slot (a slot not listed takes any text)."""
    return SLOTS.get(slot or "", SlotExpectation(None, _answers(), free_text=True))
