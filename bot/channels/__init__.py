"""Hamsafar's channels: Telegram and Bale (one Bot-API channel), the website widget and SMS.

One connector per module (`botapi/` a package shared by `telegram.py` and
`bale.py`). Every output path can send without an incoming message
(`bot.channels.base`) and every outbound message passes the consent check in
`bot.channels.consent`.
"""

# The package's public modules (`from bot.channels import *`); a module whose name starts
# with an underscore is private to the package.
__all__ = [
    "addresses",
    "bale",
    "base",
    "botapi",
    "consent",
    "erasure",
    "models",
    "redaction",
    "rest",
    "sms",
    "sms_gateways",
    "telegram",
    "web",
]
