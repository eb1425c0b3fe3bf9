"""What identity verification sends: the one-time code SMS (bot.identity.verification).

The SMS is sent outside any conversation, so its wording lives here rather than in the dialogue.
"""

from typing import Dict

TEXTS: Dict[str, Dict[str, str]] = {
    "identity.code_sms": {
        "fa": "کد تأیید همسفر: {code}\nاین کد تا ۵ دقیقه معتبر است. آن را به کسی ندهید.",
        "en": "Hamsafar verification code: {code}\nValid for 5 minutes. Do not share it.",
    },
}
