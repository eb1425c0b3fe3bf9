"""What the Bot-API channel itself says to customers (fa/en), outside the dialogue."""

from __future__ import annotations

from typing import Optional

POLITE = {
    "unsupported": {
        "fa": "فعلاً فقط پیام متنی را می‌توانم بخوانم؛ لطفاً سؤالتان را بنویسید.",
        "en": "For now I can only read text messages; please type your question.",
    },
    "foreign_contact": {
        "fa": "برای تأیید هویت لطفاً شماره‌ی خودتان را با دکمه‌ی «ارسال شماره‌ی من» بفرستید.",
        "en": "To verify you, please share your own number with the \"Share my phone number\" button.",
    },
    "share_button": {"fa": "ارسال شماره‌ی من", "en": "Share my phone number"},
    "stopped": {
        "fa": "دیگر پیامی به ابتکار ما برایتان فرستاده نمی‌شود. هر وقت خواستید /start را بزنید.",
        "en": "You will not get messages we start any more. Send /start whenever you like.",
    },
    "payment_received": {
        "fa": "پرداخت سفارش {order_id} به مبلغ {total} دریافت شد. سپاس!",
        "en": "We received the payment of {total} for order {order_id}. Thank you!",
    },
    "payment_refused": {
        "fa": "این صورتحساب دیگر قابل پرداخت نیست؛ لطفاً وضعیت سفارش را از من بپرسید.",
        "en": "This invoice can no longer be paid; please ask me about the order's status.",
    },
}


def lang_of(language_code: Optional[str]) -> str:
    """`en` for an English client, otherwise Persian (the shop's first language)."""
    return "en" if (language_code or "").lower().startswith("en") else "fa"
