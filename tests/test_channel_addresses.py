"""bot.channels.addresses: the one reader and writer of conversation ids `<prefix>:<address>`."""

import pytest

from bot.channels import addresses
from bot.channels.addresses import ConversationAddress


@pytest.mark.parametrize("conversation_id, channel, address, prefix", [
    ("tg:123", "telegram", "123", "tg"),
    ("tg:-100123:456", "telegram", "-100123:456", "tg"),
    ("bale:42", "bale", "42", "bale"),
    ("bale:-100123:456", "bale", "-100123:456", "bale"),
    ("web:k3y-abc", "web", "k3y-abc", "web"),
    ("sms:+989121234567", "sms", "+989121234567", "sms"),
    ("rest:terminal-1a2b", "rest", "terminal-1a2b", "rest"),
    ("sms:ref-0123456789abcdef", "sms", "ref-0123456789abcdef", "sms"),
    ("web:ref-0123456789abcdef", "web", "ref-0123456789abcdef", "web"),
])
def test_round_trip(conversation_id, channel, address, prefix):
    parsed = addresses.parse(conversation_id)
    assert parsed == ConversationAddress(channel, address)
    assert parsed.prefix == prefix
    assert str(parsed) == conversation_id
    assert addresses.conversation_id(channel, address) == conversation_id
    assert addresses.channel_of(conversation_id) == channel
    assert addresses.id_prefix(channel) == prefix + ":"
    assert conversation_id.startswith(addresses.id_prefix(channel))


def test_chats_and_group_members():
    private, group = addresses.parse("tg:123"), addresses.parse("bale:-100123:456")
    assert (private.chat, private.user) == ("123", None)
    assert (group.chat, group.user) == ("-100123", "456")
    assert str(ConversationAddress.of_chat("telegram", 123)) == "tg:123"
    assert str(ConversationAddress.of_chat("bale", -100123, 456)) == "bale:-100123:456"
    assert addresses.parse("web:abc:def").chat is None  # only Telegram/Bale addresses are chats
    assert addresses.parse("sms:+989121234567").user is None
    with pytest.raises(ValueError):
        ConversationAddress.of_chat("sms", "+989121234567")


@pytest.mark.parametrize("junk", [None, "", "tg:", "bale:", "sms:", ":x", ":", "tg", "unknown:1", "journey:c1",
                                  "journey:phone:+989121234567", "TG:1", " tg:1", 123])
def test_junk_is_no_conversation(junk):
    assert addresses.parse(junk) is None
    assert addresses.channel_of(junk) is None


def test_unknown_channels_are_refused():
    with pytest.raises(ValueError):
        addresses.conversation_id("whatsapp", "1")
    with pytest.raises(ValueError):
        ConversationAddress("tg", "1")  # the prefix is not the channel
    with pytest.raises(KeyError):
        addresses.id_prefix("whatsapp")


def test_address_of_accepts_both_forms():
    assert addresses.address_of("sms:+989121234567") == "+989121234567"
    assert addresses.address_of("+989121234567") == "+989121234567"
    assert addresses.address_of("sms:+989121234567", "sms") == "+989121234567"
    assert addresses.address_of("tg:123", "sms") == "tg:123"  # another channel's id is left alone
    assert addresses.address_of("tg:") == "tg:"
    assert addresses.chat_part("123:456") == "123"
    assert addresses.chat_part("123") == "123"


def test_one_table_both_ways():
    assert addresses.CHANNELS == {prefix: channel for channel, prefix in addresses.PREFIXES.items()}
    assert set(addresses.PREFIXES) == {"telegram", "bale", "web", "sms", "rest"}
