"""The output channel `web`: bot and agent messages go into the conversation's history, pushed live."""

from __future__ import annotations

from typing import Any, Dict, List

from bot.channels.base import ProactiveOutput

from ._history import append_message
from ._sessions import session_of


class WebOutput(ProactiveOutput):
    """Writes bot (or agent) messages into a web conversation's history; pushed live."""

    channel = "web"

    @classmethod
    def name(cls) -> str:
        return "web"

    def __init__(self, *, proactive: bool = True, sender: str = "bot") -> None:
        super().__init__(proactive=proactive)
        self.sender = sender

    async def _deliver(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], *, kind: str) -> None:
        append_message(session_of(recipient_id), self.sender, text or "", buttons)

    def written_by(self, sender: str) -> "WebOutput":
        """The widget shows who wrote each message: an output that writes as `sender`."""
        return self if sender == self.sender else WebOutput(proactive=self.proactive, sender=sender)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        if json_message.get("text"):
            await self.send_text(recipient_id, str(json_message["text"]), json_message.get("buttons"),
                                 proactive=self.proactive)


async def send_agent_message(conversation_id: str, text: str) -> bool:
    """For the agent console: an agent's reply into a web conversation, pushed live."""
    return await WebOutput(proactive=False, sender="agent").send_text(conversation_id, text, proactive=False)
