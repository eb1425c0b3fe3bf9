"""`hamsafar chat`: talk to a running Hamsafar from the terminal via the REST channel.

Buttons are listed with numbers; typing a number sends that button's payload.
Persian lines are wrapped in Unicode isolates (RLI ... PDI) so terminals with
bidi support lay them out right-to-left; everything is UTF-8.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any, Dict, List, Optional

import httpx

from bot.channels.addresses import conversation_id
from bot.text.persian import has_persian_letters

RLI, PDI = "\u2067", "\u2069"


def display(text: str) -> str:
    """One bot line as the terminal should show it."""
    return f"{RLI}{text}{PDI}" if has_persian_letters(text) else text


def render_reply(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """Print bot messages; return the buttons offered (in order)."""
    buttons: List[Dict[str, str]] = []
    for message in messages:
        if message.get("text"):
            for line in str(message["text"]).splitlines():
                print(f"🤖 {display(line)}")
        for button in message.get("buttons") or []:
            buttons.append(button)
            print(f"   [{len(buttons)}] {display(str(button.get('title', '')))}")
    return buttons


def chat(url: str, sender: Optional[str] = None, token: Optional[str] = None) -> int:
    sender = sender or f"terminal-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    endpoint = url.rstrip("/") + "/webhooks/rest/webhook"
    print(f"Hamsafar — همسفر · {endpoint} · conversation {conversation_id('rest', sender)} · Ctrl-D to quit")
    buttons: List[Dict[str, str]] = []
    with httpx.Client(timeout=60, headers=headers) as client:
        while True:
            try:
                text = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if not text:
                continue
            if text.isdigit() and 0 < int(text) <= len(buttons):
                text = buttons[int(text) - 1].get("payload") or text
            try:
                reply = client.post(endpoint, json={"sender": sender, "message": text})
            except httpx.HTTPError as error:
                print(f"! cannot reach the bot at {endpoint}: {error}", file=sys.stderr)
                continue
            if reply.status_code != 200:
                print(f"! {reply.status_code}: {reply.text}", file=sys.stderr)
                continue
            buttons = render_reply(reply.json())
