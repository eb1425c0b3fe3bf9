"""Hamsafar's channels: Telegram and Bale (one Bot-API channel), the website widget and SMS.

One connector per module (`botapi/` a package shared by `telegram.py` and
`bale.py`). Every output path can send without an incoming message
(`bot.channels.base`) and every outbound message passes the consent check in
`bot.channels.consent`.
"""
