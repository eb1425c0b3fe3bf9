"""Conversation repair: what each customer message does to the conversation, and the actions that follow.

* `moves` — the dialogue move of a message (answer, side question, new request,
  leaving, repeat, correction) from the parse and the form's open question;
* `expectations` — what each form question expects, and the intent groups;
* `cues` — "what?", "I meant…", "it", "the cheaper one" in the customer's words;
* `policy` — the Rasa policy that carries the move out (bot.dialogue.policy,
  imported by Rasa from config.yml; not imported here, so the action server
  does not load Rasa).

The action server decides the move (actions/turns.py) and the Rasa server acts
on it; docs/dialogue.md tells the whole story.
"""

from bot.dialogue.moves import Context, Message, Move, decide

__all__ = ["Context", "Message", "Move", "decide"]
