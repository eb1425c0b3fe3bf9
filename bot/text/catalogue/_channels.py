"""What the channels themselves say, outside the dialogue: Bot API (Telegram, Bale), SMS and the web widget.

`botapi.*` is sent by bot.channels.botapi (a photo it cannot read, a shared contact that is not the
customer's, /stop, a payment); `sms.*` confirms an SMS opt-out or opt-in (bot.channels.sms);
`web.*` is what the web channel shows: a notice when a session ended, and the demo shop page.
"""

from typing import Dict

TEXTS: Dict[str, Dict[str, str]] = {
    # ------------------------------------------------------------------ Bot API (Telegram, Bale)
    "botapi.unsupported": {
        "fa": "فعلاً فقط پیام متنی را می‌توانم بخوانم؛ لطفاً سؤالتان را بنویسید.",
        "en": "For now I can only read text messages; please type your question.",
    },
    "botapi.foreign_contact": {
        "fa": "برای تأیید هویت لطفاً شماره‌ی خودتان را با دکمه‌ی «ارسال شماره‌ی من» بفرستید.",
        "en": "To verify you, please share your own number with the \"Share my phone number\" button.",
    },
    "botapi.share_button": {"fa": "ارسال شماره‌ی من", "en": "Share my phone number"},
    "botapi.stopped": {
        "fa": "دیگر پیامی به ابتکار ما برایتان فرستاده نمی‌شود. هر وقت خواستید /start را بزنید.",
        "en": "You will not get messages we start any more. Send /start whenever you like.",
    },
    "botapi.payment_received": {
        "fa": "پرداخت سفارش {order_id} به مبلغ {total} دریافت شد. سپاس!",
        "en": "We received the payment of {total} for order {order_id}. Thank you!",
    },
    "botapi.payment_refused": {
        "fa": "این صورتحساب دیگر قابل پرداخت نیست؛ لطفاً وضعیت سفارش را از من بپرسید.",
        "en": "This invoice can no longer be paid; please ask me about the order's status.",
    },
    # The description of an invoice the customer pays in the chat (bot.channels.botapi.payments).
    "botapi.invoice_description": {
        "fa": "پرداخت سفارش {order_id} به مبلغ {total}",
        "en": "Payment for order {order_id}: {total}",
    },
    # ------------------------------------------------------------------ SMS
    "sms.opt_out": {
        "fa": "لغو عضویت انجام شد؛ دیگر پیامکی از ما دریافت نمی‌کنید. برای عضویت دوباره «شروع» را بفرستید.",
        "en": "You are unsubscribed and will get no more messages from us. Reply START to subscribe again.",
    },
    "sms.opt_in": {
        "fa": "عضویت شما دوباره فعال شد. برای لغو «لغو» را بفرستید.",
        "en": "You are subscribed again. Reply STOP to unsubscribe.",
    },
    # ------------------------------------------------------------------ web
    # Shown in the new conversation when the customer's session ended or was replaced.
    "web.session_expired": {
        "fa": "نشست قبلی شما به پایان رسید. برای دیدن سفارش‌هایتان دوباره هویت خود را تأیید کنید.",
        "en": "Your previous session has ended. Please verify yourself again to see your orders.",
    },
    "web.session_replaced": {
        "fa": "گفتگوی تازه‌ای برای حساب واردشده شروع شد.",
        "en": "A new conversation has started for the account now signed in.",
    },
    # The demo shop page that hosts the widget (bot.channels.web._pages).
    "web.demo_title": {"fa": "فروشگاه نمونه‌ی همسفر", "en": "Hamsafar demo shop"},
    "web.demo_intro": {
        "fa": "درباره‌ی کالاها، سفارش و ارسال از دستیار همسفر بپرسید (گوشه‌ی پایین صفحه).",
        "en": "Ask the assistant about products, orders and delivery (bottom corner).",
    },
}
