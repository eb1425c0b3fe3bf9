"""What the customer is told about a handoff to a support agent (bot.handoff, actions/handoff.py).

`{position}` is the customer's place in the queue (bot.handoff.texts formats it with Persian
digits), `{when}` when the desk opens again (`bot.handoff.texts.when_back`), `{ticket}` a ticket
reference and `{agent}` the agent's display name.
"""

from typing import Dict

TEXTS: Dict[str, Dict[str, str]] = {
    "handoff.queued": {
        "fa": "گفتگو را به یکی از همکاران پشتیبانی می‌سپارم؛ به‌زودی همین‌جا جوابتان را می‌دهند. شما نفر {position} صف هستید. 🙏",
        "en": "I'm passing the conversation to a person from our support team; they will answer you here shortly. "
              "You are number {position} in the queue.",
    },
    "handoff.queued_upset": {
        "fa": "متأسفم که این‌قدر اذیت شدید. گفتگو را به یکی از همکاران پشتیبانی می‌سپارم؛ به‌زودی همین‌جا جوابتان را می‌دهند. "
              "شما نفر {position} صف هستید.",
        "en": "I'm sorry this has been so frustrating. I'm passing the conversation to a person from our support team; "
              "they will answer you here shortly. You are number {position} in the queue.",
    },
    "handoff.queued_fallback": {
        "fa": "ببخشید که متوجه نشدم. گفتگو را به یکی از همکاران پشتیبانی می‌سپارم؛ به‌زودی همین‌جا جوابتان را می‌دهند. "
              "شما نفر {position} صف هستید.",
        "en": "Sorry I couldn't understand. I'm passing the conversation to a person from our support team; "
              "they will answer you here shortly. You are number {position} in the queue.",
    },
    "handoff.still_waiting": {
        "fa": "درخواستتان ثبت شده؛ شما نفر {position} صف هستید و یکی از همکاران به‌زودی همین‌جا پاسخ می‌دهد.",
        "en": "Your request is in: you are number {position} in the queue and a person will answer you here shortly.",
    },
    "handoff.with_agent": {
        "fa": "یکی از همکاران پشتیبانی در حال گفتگو با شماست.",
        "en": "A person from our support team is with you in this conversation.",
    },
    "handoff.after_hours": {
        "fa": "همکاران پشتیبانی الان در دسترس نیستند و از {when} برمی‌گردند. درخواستتان با شماره‌ی پیگیری {ticket} ثبت شد "
              "و همکاران ما پیگیری می‌کنند. تا آن موقع من در خدمتتان هستم.",
        "en": "Our support team is not available right now; they are back {when}. Your request is saved as ticket {ticket} "
              "and they will follow it up. Until then I'm here to help.",
    },
    "handoff.after_hours_no_ticket": {
        "fa": "همکاران پشتیبانی الان در دسترس نیستند و از {when} برمی‌گردند. لطفاً آن موقع دوباره پیام بدهید؛ تا آن موقع من در خدمتتان هستم.",
        "en": "Our support team is not available right now; they are back {when}. Please write again then; until then I'm here to help.",
    },
    # Refused by the limits of issue 17 finding 9 (bot.handoff.service.request_handoff): nothing queued,
    # the bot keeps serving.
    "handoff.limited": {
        "fa": "امروز چند بار درخواست گفتگو با همکاران پشتیبانی داده‌اید و درخواست‌های قبلی‌تان پیش آن‌هاست؛ "
              "برای امروز درخواست تازه‌ای ثبت نمی‌کنم. لطفاً فردا دوباره بنویسید «اپراتور». تا آن موقع من در خدمتتان هستم.",
        "en": "You have asked for a person several times today, and our support team has your earlier requests, "
              "so I can't add another one today. Please ask again tomorrow; until then I'm here to help.",
    },
    "handoff.queue_full": {
        "fa": "متأسفم، همه‌ی همکاران پشتیبانی الان مشغول‌اند و صف انتظار پر است. لطفاً کمی بعد دوباره بنویسید «اپراتور»؛ "
              "تا آن موقع من در خدمتتان هستم.",
        "en": "Sorry, all our support agents are busy and the queue is full right now. Please ask for a person again "
              "a little later; until then I'm here to help.",
    },
    "handoff.timeout": {
        "fa": "پوزش می‌خواهیم؛ همکاران پشتیبانی الان همه مشغول‌اند و نتوانستند به‌موقع پاسخ بدهند. درخواستتان با شماره‌ی پیگیری {ticket} "
              "ثبت شد و با شما تماس می‌گیریم. تا آن موقع من در خدمتتان هستم.",
        "en": "We're sorry: all our support agents are busy and could not answer in time. Your request is saved as ticket "
              "{ticket} and we will get back to you. Until then I'm here to help.",
    },
    "handoff.timeout_no_ticket": {
        "fa": "پوزش می‌خواهیم؛ همکاران پشتیبانی الان همه مشغول‌اند و نتوانستند به‌موقع پاسخ بدهند. لطفاً کمی بعد دوباره امتحان کنید؛ تا آن موقع من در خدمتتان هستم.",
        "en": "We're sorry: all our support agents are busy and could not answer in time. Please try again a little later; "
              "until then I'm here to help.",
    },
    # action_request_human could not put the conversation in the queue: the bot keeps serving.
    "handoff.queue_unavailable": {
        "fa": "متأسفم، همین الان نتوانستم گفتگو را به همکاران پشتیبانی برسانم. من همچنان در خدمتتان هستم؛ "
              "بفرمایید چه کاری برایتان انجام دهم، یا چند دقیقه دیگر دوباره بنویسید «اپراتور».",
        "en": "Sorry, I couldn't pass the conversation to our support team just now. I'm still here to help: "
              "tell me what you need, or ask for a person again in a few minutes.",
    },
    # The conversation was marked as handed off but is in no agent's queue (a lost handoff): the bot is back.
    "handoff.resumed": {
        "fa": "پوزش می‌خواهیم؛ درخواستتان به همکاران پشتیبانی نرسید. گفتگو دوباره با دستیار همسفر است و من در خدمتتان هستم؛ "
              "اگر باز هم با یکی از همکاران کار دارید، بنویسید «اپراتور».",
        "en": "We're sorry: your request did not reach our support team. You're back with the Hamsafar assistant and "
              "I'm here to help; ask for a person again if you'd still like one.",
    },
    "handoff.claimed": {
        "fa": "{agent} از تیم پشتیبانی به گفتگو پیوست.",
        "en": "{agent} from our support team has joined the conversation.",
    },
    "handoff.handed_back": {
        "fa": "گفتگو دوباره با دستیار همسفر است. اگر کار دیگری هست بفرمایید.",
        "en": "You're back with the Hamsafar assistant. Tell me if there's anything else I can do.",
    },
    "handoff.closed": {
        "fa": "گفتگو با پشتیبانی بسته شد. ممنون که با ما در تماس بودید. اگر کار دیگری هست، همین‌جا بنویسید.",
        "en": "The conversation with our support team is closed. Thank you for contacting us. Write here if there's anything else.",
    },
}
