"""Hamsafar's channels: Telegram, the website widget and SMS.

One connector per file. Every output path can send without an incoming
message (`bot.channels.base`) and every outbound message passes the consent
check in `bot.channels.consent`.
"""
