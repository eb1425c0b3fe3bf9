"""What the dialogue's custom actions say (actions/), and the titles of the buttons that name an intent.

Keys without a dot are the actions' own texts (`actions.common.say`); `intent.<name>` is the
title of a suggestion button that triggers intent <name> (fallback and clarification).
Persian numbers written in the templates use Persian digits; placeholders are filled with
values already formatted for the language.
"""

from typing import Dict

TEXTS: Dict[str, Dict[str, str]] = {
    # ------------------------------------------------------------------ general
    "action_failed": {
        "fa": "متأسفم، در انجام این کار مشکلی پیش آمد. لطفاً طور دیگری بپرسید یا بنویسید «اپراتور» تا یکی از همکاران کمک کند.",
        "en": "Sorry, something went wrong on my side with that. Please ask in other words, or type \"agent\" and a colleague will help.",
    },
    "crm_unavailable": {
        "fa": "متأسفم، الان به سامانه فروشگاه دسترسی ندارم و نمی‌توانم این کار را انجام دهم. لطفاً چند دقیقه دیگر دوباره امتحان کنید یا بنویسید «اپراتور» تا یکی از همکاران پیگیری کند.",
        "en": "Sorry, I can't reach the shop's system right now, so I can't do this. Please try again in a few minutes, or type \"agent\" and a colleague will follow up.",
    },
    "language_switched": {
        "fa": "حتماً، از این به بعد فارسی صحبت می‌کنیم. چه کمکی از من برمی‌آید؟",
        "en": "Sure, I'll speak English from now on. How can I help?",
    },
    "rephrase_with_suggestions": {
        "fa": "ببخشید، منظورتان را متوجه نشدم. می‌شود طور دیگری بگویید؟ شاید یکی از این‌ها را می‌خواهید:",
        "en": "Sorry, I didn't quite get that. Could you say it another way? Perhaps you meant one of these:",
    },
    "rephrase": {
        "fa": "ببخشید، منظورتان را متوجه نشدم. می‌شود طور دیگری بگویید؟",
        "en": "Sorry, I didn't quite get that. Could you say it another way?",
    },
    "greet_known": {
        "fa": "سلام {name}، خوش آمدید! 🌷 چه کاری برایتان انجام دهم؟ مثلاً پیگیری سفارش، خرید یا مرجوعی.",
        "en": "Hi {name}, welcome back! What can I do for you today? For example track an order, shop or return an item.",
    },
    # How a known customer is named in a greeting: «علی رضایی عزیز»; in English the first name alone.
    "dear_name": {"fa": "{name} عزیز", "en": "{name}"},
    # ------------------------------------------------------------------ verification
    "ask_phone_number": {
        "fa": "برای دسترسی به سفارش‌ها و حساب شما، لطفاً شماره موبایلی را که با آن خرید کرده‌اید بنویسید (مثلاً ۰۹۱۲۱۲۳۴۵۶۷).",
        "en": "To access your orders and account, please type the mobile number you shop with (for example 09121234567).",
    },
    "ask_phone_number_order": {
        "fa": "برای ثبت سفارش {product}، لطفاً شماره موبایلی را که با آن خرید می‌کنید بنویسید (مثلاً ۰۹۱۲۱۲۳۴۵۶۷).",
        "en": "To order the {product}, please type the mobile number you shop with (for example 09121234567).",
    },
    "phone_needed": {
        "fa": "ببخشید بابت زحمت؛ فقط با شماره موبایلی که با آن خرید می‌کنید می‌توانم ادامه دهم.",
        "en": "Sorry for the hassle — I can only go on with the mobile number you shop with.",
    },
    "phone_invalid": {
        "fa": "این شماره موبایل معتبر به نظر نمی‌رسد. لطفاً شماره را به شکل ۰۹۱۲۱۲۳۴۵۶۷ بنویسید.",
        "en": "That doesn't look like a valid mobile number. Please type it like 09121234567.",
    },
    "code_sent": {
        "fa": "اگر این شماره ({phone}) در فروشگاه ثبت شده باشد، یک کد ۶ رقمی با پیامک برایش فرستادیم.",
        "en": "If this number ({phone}) is registered with the shop, we have sent it a 6-digit code by SMS.",
    },
    "ask_otp_code": {
        "fa": "لطفاً کد ۶ رقمی پیامک‌شده را بنویسید.",
        "en": "Please type the 6-digit code from the SMS.",
    },
    "code_wrong": {
        "fa": "کد درست نیست. {left} بار دیگر می‌توانید امتحان کنید.",
        "en": "That code is not right. You can try {left} more times.",
    },
    "code_expired": {
        "fa": "کد منقضی شده است. شماره موبایلتان را دوباره بنویسید تا کد تازه بفرستیم.",
        "en": "The code has expired. Type your mobile number again and we'll send a new one.",
    },
    "code_too_many": {
        "fa": "تعداد تلاش‌ها بیش از حد مجاز شد. لطفاً کمی بعد دوباره امتحان کنید یا بنویسید «اپراتور».",
        "en": "Too many attempts. Please try again later, or type \"agent\".",
    },
    "code_rate_limited": {
        "fa": "برای این شماره چند کد پشت سر هم فرستاده شده است. لطفاً {minutes} دقیقه دیگر دوباره امتحان کنید.",
        "en": "Several codes were sent to this number already. Please try again in {minutes} minutes.",
    },
    "code_send_failed": {
        "fa": "متأسفم، فرستادن پیامک الان ممکن نشد. لطفاً کمی بعد دوباره امتحان کنید.",
        "en": "Sorry, the SMS could not be sent right now. Please try again a little later.",
    },
    "verified": {
        "fa": "هویت شما تأیید شد. ✅",
        "en": "You're verified. ✅",
    },
    "not_verified": {
        "fa": "متأسفم، بدون تأیید شماره موبایل نمی‌توانم اطلاعات سفارش یا حساب شما را نشان دهم.",
        "en": "Sorry, without verifying your mobile number I can't show your orders or account.",
    },
    # ------------------------------------------------------------------ form questions
    "ask_order_id": {
        "fa": "شماره سفارش را بنویسید (مثلاً ۱۰۰۲۳۴).",
        "en": "Please type the order number (for example 100234).",
    },
    "latest_open_order": {
        "fa": "آخرین سفارش باز شما سفارش {order_id} است (برای سفارش دیگر، شماره‌اش را بنویسید).",
        "en": "Your latest open order is {order_id} (for another order, type its number).",
    },
    "order_id_invalid": {
        "fa": "شماره سفارش باید فقط عدد باشد، مثلاً ۱۰۰۲۳۴.",
        "en": "An order number is digits only, for example 100234.",
    },
    "order_not_found": {
        "fa": "سفارشی با شماره {order_id} در سفارش‌های شما پیدا نکردم. لطفاً شماره را بررسی کنید.",
        "en": "I couldn't find an order {order_id} among your orders. Please check the number.",
    },
    "ask_product": {
        "fa": "کدام کالا؟ نام یا مدلش را بنویسید (مثلاً «سامسونگ A55»).",
        "en": "Which product? Type its name or model (for example \"Galaxy A55\").",
    },
    "which_products_warranty": {
        "fa": "گارانتی کدام‌یک را می‌خواهید؟",
        "en": "Which one's warranty would you like to know?",
    },
    "ask_products": {
        "fa": "کدام دو کالا را مقایسه کنم؟ نام هر دو را بنویسید (مثلاً «A55 یا S24»).",
        "en": "Which two products shall I compare? Type both names (for example \"A55 or S24\").",
    },
    "ask_second_product": {
        "fa": "{first} را با کدام کالا مقایسه کنم؟",
        "en": "Compare {first} with which product?",
    },
    "product_choose": {
        "fa": "چند کالا پیدا کردم؛ کدام را می‌خواهید؟",
        "en": "I found several products; which one do you mean?",
    },
    "product_not_found": {
        "fa": "متأسفم، کالای «{product}» را پیدا نکردم. نام یا مدل را طور دیگری بنویسید.",
        "en": "Sorry, I couldn't find \"{product}\". Try its name or model another way.",
    },
    "ask_discount_code": {
        "fa": "کد تخفیف را بنویسید.",
        "en": "Please type the discount code.",
    },
    "discount_code_invalid": {
        "fa": "این کد تخفیف درست به نظر نمی‌رسد؛ کد فقط حروف انگلیسی و عدد دارد، مثلاً WELCOME10.",
        "en": "That doesn't look like a discount code; codes are letters and digits, like WELCOME10.",
    },
    "ask_rating": {
        "fa": "از ۱ تا ۵ به خدمات ما چه نمره‌ای می‌دهید؟ (۵ یعنی عالی)",
        "en": "From 1 to 5, how would you rate our service? (5 is excellent)",
    },
    "ask_review_rating": {
        "fa": "از ۱ تا ۵ به این کالا چند ستاره می‌دهید؟",
        "en": "How many stars, from 1 to 5, do you give this product?",
    },
    "rating_invalid": {
        "fa": "لطفاً یک عدد از {low} تا {high} بنویسید.",
        "en": "Please give a number from {low} to {high}.",
    },
    "ask_change_request": {
        "fa": "چه چیزی را تغییر دهم؟ آدرس تازه یا زمان تحویل دلخواه را کامل بنویسید.",
        "en": "What shall I change? Type the new delivery address or the delivery time you'd like.",
    },
    "ask_confirm_cancel": {
        "fa": "سفارش {order_id} لغو شود؟",
        "en": "Shall I cancel order {order_id}?",
    },
    "yes_cancel": {"fa": "بله، لغو شود", "en": "Yes, cancel it"},
    "ask_confirm_order": {
        "fa": "سفارش {quantity} × {product} به مبلغ {total} ثبت شود؟",
        "en": "Shall I place the order: {quantity} × {product}, {total}?",
    },
    "yes_order": {"fa": "بله، ثبت کن", "en": "Yes, place it"},
    "no_order": {"fa": "نه، ثبت نکن", "en": "No, don't"},
    "order_not_placed": {
        "fa": "باشه، سفارشی ثبت نشد. اگر کالای دیگری خواستید بگویید.",
        "en": "OK, I haven't placed any order. Tell me if you'd like another product.",
    },
    "ask_confirm_change": {
        "fa": "در سفارش {order_id} این تغییر ثبت شود؟ «{value}»",
        "en": "Shall I change order {order_id} to: \"{value}\"?",
    },
    "yes_change": {"fa": "بله، تغییر بده", "en": "Yes, change it"},
    "no_change": {"fa": "نه، تغییر نده", "en": "No, leave it"},
    "order_not_changed": {
        "fa": "باشه، سفارش {order_id} تغییری نکرد.",
        "en": "OK, order {order_id} stays as it was.",
    },
    "yes_or_no": {
        "fa": "ببخشید، جوابتان را متوجه نشدم؛ لطفاً «بله» یا «نه» بنویسید یا یکی از دکمه‌ها را بزنید.",
        "en": "Sorry, I didn't get that — please answer \"yes\" or \"no\", or tap a button.",
    },
    "code_expected": {
        "fa": "لطفاً فقط کد ۶ رقمی پیامکی را که برایتان فرستادیم بنویسید.",
        "en": "Please type just the 6-digit code from the SMS we sent you.",
    },
    "code_not_arrived": {
        "fa": "گاهی پیامک چند دقیقه دیرتر می‌رسد. اگر نرسید، شماره موبایلتان را دوباره بنویسید تا کد تازه بفرستیم.",
        "en": "SMS can take a few minutes. If it doesn't arrive, type your mobile number again and I'll send a new code.",
    },
    "greet_how_are_you": {
        "fa": "ممنون، خوبم! 🙂 شما چطورید؟ چه کمکی از من برمی‌آید؟",
        "en": "I'm well, thanks! 🙂 How can I help you?",
    },
    "greet_again": {
        "fa": "سلام! 🙂 بفرمایید، در خدمتم.",
        "en": "Hi there! 🙂 Go ahead, I'm listening.",
    },
    "greet_again_known": {
        "fa": "سلام {name}! 🙂 بفرمایید، در خدمتم.",
        "en": "Hi {name}! 🙂 Go ahead, I'm listening.",
    },
    "greet_again_choose": {
        "fa": "سلام! 🙂 کدام را برایتان باز کنم؟ روی دکمه‌اش بزنید یا اسمش را بنویسید.",
        "en": "Hi there! 🙂 Which one shall I open for you? Tap it or type its name.",
    },
    "pay_this_order": {
        "fa": "سفارش {order_id} به مبلغ {total} منتظر پرداخت است. برای پرداخت: {link}",
        "en": "Order {order_id} ({total}) is waiting for payment. Pay here: {link}",
    },
    "take_your_time": {
        "fa": "حتماً، عجله‌ای نیست. 🙂",
        "en": "Sure, take your time. 🙂",
    },
    "clarify_request": {
        "fa": "کدام یکی را می‌خواهید؟",
        "en": "Which of these would you like?",
    },
    "nothing_to_repeat": {
        "fa": "هنوز چیزی نگفته‌ام! چه کمکی از دستم برمی‌آید؟",
        "en": "I haven't said anything yet! How can I help you?",
    },
    "no_keep": {"fa": "نه، نگهش دار", "en": "No, keep it"},
    "ask_return_reason": {
        "fa": "دلیل مرجوعی چیست؟ (مثلاً معیوب است، با توضیحات فرق دارد، پشیمان شدم)",
        "en": "Why would you like to return it? (for example faulty, not as described, changed my mind)",
    },
    "ask_problem_description": {
        "fa": "لطفاً مشکل را کمی کامل‌تر توضیح دهید (کدام کالا، چه اتفاقی افتاده).",
        "en": "Please describe the problem in a little more detail (which product, what happened).",
    },
    "ask_review_text": {
        "fa": "نظرتان درباره این کالا را بنویسید.",
        "en": "Please write your review of the product.",
    },
    # ------------------------------------------------------------------ awareness
    "about_shop": {
        "fa": "{about}\nوب‌سایت: {website}",
        "en": "{about}\nWebsite: {website}",
    },
    "contact_info": {
        "fa": "📞 تلفن: {phone}\n✉️ ایمیل: {email}\n📍 نشانی: {address}\n🕘 ساعت کاری: {hours}\nوب‌سایت: {website}",
        "en": "📞 Phone: {phone}\n✉️ Email: {email}\n📍 Address: {address}\n🕘 Opening hours: {hours}\nWebsite: {website}",
    },
    "hours_on_day": {
        "fa": "{when} ساعت {hours} باز هستیم.",
        "en": "{when} we're open {hours}.",
    },
    "closed_on_day": {
        "fa": "{when} تعطیل هستیم.",
        "en": "{when} we're closed.",
    },
    "when.every": {"fa": "{day}‌ها", "en": "On {day}s"},
    "when.today": {"fa": "امروز ({day})", "en": "Today ({day})"},
    "when.tomorrow": {"fa": "فردا ({day})", "en": "Tomorrow ({day})"},
    "promotions": {
        "fa": "تخفیف‌ها و پیشنهادهای فعلی:\n{lines}",
        "en": "Current offers:\n{lines}",
    },
    "no_promotions": {
        "fa": "در حال حاضر جشنواره یا تخفیف ویژه‌ای نداریم.",
        "en": "There are no special offers right now.",
    },
    # ------------------------------------------------------------------ consideration
    "shipping": {
        "fa": "{text}\n{lines}",
        "en": "{text}\n{lines}",
    },
    "shipping_to_city": {
        "fa": "ارسال به {city}:\n{lines}\n{free}{elsewhere}",
        "en": "Shipping to {city}:\n{lines}\n{free}{elsewhere}",
    },
    "shipping_abroad": {
        "fa": "فعلاً فقط داخل ایران ارسال داریم (همه شهرها)؛ به خارج از کشور ارسال نمی‌کنیم.",
        "en": "We only deliver inside Iran (every city) for now; we don't ship abroad.",
    },
    "shipping_total": {
        "fa": " (جمعاً {total})",
        "en": " (total {total})",
    },
    "shipping_only_elsewhere": {
        "fa": "\n{method}: فقط {cities}",
        "en": "\n{method}: {cities} only",
    },
    "shipping_free_over": {
        "fa": "برای خریدهای بالای {amount} ارسال رایگان است.",
        "en": "Shipping is free on orders over {amount}.",
    },
    "warranty": {
        "fa": "🛡 گارانتی: {warranty}\n↩️ مرجوعی: {returns}",
        "en": "🛡 Warranty: {warranty}\n↩️ Returns: {returns}",
    },
    "product_warranty": {
        "fa": "{product}: {warranty}.",
        "en": "{product}: {warranty}.",
    },
    "product_return_days": {
        "fa": "{product} تا {days} روز پس از تحویل قابل مرجوع کردن است.",
        "en": "The {product} can be returned within {days} days of delivery.",
    },
    "product_not_returnable": {
        "fa": "{product} قابل مرجوع کردن نیست؛ ایراد فنی آن را گارانتی پوشش می‌دهد.",
        "en": "The {product} cannot be returned; a fault is covered by its warranty.",
    },
    "returns_policy": {
        "fa": "↩️ مرجوعی: {returns}",
        "en": "↩️ Returns: {returns}",
    },
    "payment_methods": {
        "fa": "روش‌های پرداخت:\n{lines}",
        "en": "You can pay with:\n{lines}",
    },
    "payment_in_city": {
        "fa": "روش‌های پرداخت در {city}:\n{lines}",
        "en": "In {city} you can pay with:\n{lines}",
    },
    "payment_way_accepted": {
        "fa": "بله: {way}\nهمه روش‌های پرداخت:\n{lines}",
        "en": "Yes: {way}\nAll the ways you can pay:\n{lines}",
    },
    "payment_way_not_in_city": {
        "fa": "متأسفانه {way} در {city} نداریم (فقط {cities}). روش‌های پرداخت در {city}:\n{lines}",
        "en": "Sorry, {way} is not available in {city} ({cities} only). In {city} you can pay with:\n{lines}",
    },
    "payment_way_not_accepted": {
        "fa": "متأسفانه پرداخت با {way} نداریم. روش‌های پرداخت:\n{lines}",
        "en": "Sorry, we don't accept {way}. You can pay with:\n{lines}",
    },
    "payment_way.crypto": {"fa": "ارز دیجیتال", "en": "cryptocurrency"},
    "payment_way.paypal": {"fa": "پی‌پال", "en": "PayPal"},
    "payment_way.card_to_card": {"fa": "کارت به کارت یا واریز به حساب", "en": "card-to-card or bank transfer"},
    "payment_way.foreign_card": {"fa": "کارت‌های خارجی (ویزا و مسترکارت)", "en": "foreign cards (Visa, Mastercard)"},
    "usage_help": {
        "fa": "راهنمای نصب و استفاده کالاها در {link} است. اگر کالای خاصی مدنظرتان است نامش را بنویسید، یا بگویید «اپراتور» تا همکاران پشتیبانی راهنمایی‌تان کنند.",
        "en": "Setup and user guides are at {link}. Tell me the product's name for its own guide, or type \"agent\" and our support team will help you.",
    },
    "usage_help_product": {
        "fa": "راهنمای نصب و استفاده {product}: {link}\nاگر مشکل ادامه داشت ({warranty})، بنویسید «اپراتور» تا همکاران پشتیبانی کمکتان کنند.",
        "en": "Setup and user guide for {product}: {link}\nIf it still doesn't work ({warranty}), type \"agent\" and our support team will help.",
    },
    "browse_not_sold": {
        "fa": "متأسفم، «{item}» نداریم. این‌ها را داریم:",
        "en": "Sorry, we don't sell {item}. This is what we have:",
    },
    "browse_no_accessory_for": {
        "fa": "متأسفم، {accessory} مناسب {device} نداریم. این‌ها را داریم:",
        "en": "Sorry, we have no {accessory} for the {device}. This is what we have:",
    },
    "browse_within": {
        "fa": "{category} تا {amount} ({count}) — برای جزئیات روی هر کدام بزنید:",
        "en": "{category} up to {amount} ({count}) — tap one for details:",
    },
    "browse_cheaper_than": {
        "fa": "{category} ارزان‌تر از {product} ({count}) — برای جزئیات روی هر کدام بزنید:",
        "en": "{category} cheaper than the {product} ({count}) — tap one for details:",
    },
    "browse_cheapest": {
        "fa": "ارزان‌ترین کالای {category}: {product} — {price} ({stock}). بقیه به ترتیب قیمت:",
        "en": "The least expensive of our {category}: the {product} — {price} ({stock}). All of them by price:",
    },
    "browse_cheapest_of_these": {
        "fa": "از این‌ها ارزان‌ترین {product} است: {price} ({stock}).",
        "en": "Of these, the least expensive is the {product}: {price} ({stock}).",
    },
    "browse_priciest_of_these": {
        "fa": "از این‌ها گران‌ترین {product} است: {price} ({stock}).",
        "en": "Of these, the most expensive is the {product}: {price} ({stock}).",
    },
    "features_unknown": {
        "fa": "این جزئیات فنی را اینجا ندارم؛ در صفحه کالا در سایت ({link}) هست، یا بنویسید «اپراتور» تا همکارانم بررسی کنند.",
        "en": "I don't have that detail here; the product's page on our website ({link}) has it, or type \"agent\" and our team will check.",
    },
    "restock_unknown": {
        "fa": "نمی‌دانم {product} کی دوباره موجود می‌شود و فعلاً نمی‌توانم موجود شدنش را خبر بدهم؛ صفحه کالا در سایت ({link}) را بعداً ببینید یا بنویسید «اپراتور».",
        "en": "I don't know when the {product} will be back in stock, and I can't notify you yet; please check its page ({link}) later, or type \"agent\".",
    },
    "variants_unknown": {
        "fa": "رنگ‌ها و نسخه‌های مختلف کالا را اینجا نمی‌بینم؛ در صفحه کالا در سایت ({link}) هست، یا بنویسید «اپراتور» تا همکارانم بررسی کنند.",
        "en": "I can't see a product's colours or versions here; its page on our website ({link}) has them, or type \"agent\" and our team will check.",
    },
    "browse_nothing_within": {
        "fa": "متأسفم، در {category} کالایی تا {amount} نداریم. ارزان‌ترین‌ها این‌ها هستند:",
        "en": "Sorry, we have no {category} for {amount} or less. These are the least expensive:",
    },
    "browse_nothing_within_any": {
        "fa": "متأسفم، کالایی تا {amount} نداریم. ارزان‌ترین‌ها این‌ها هستند:",
        "en": "Sorry, we have nothing like that for {amount} or less. These are the least expensive:",
    },
    "browse_categories": {
        "fa": "کدام دسته را ببینیم؟",
        "en": "Which category would you like to see?",
    },
    "browse_one": {
        "fa": "بله، {product} داریم: {price} ({stock}).",
        "en": "Yes, we have the {product}: {price} ({stock}).",
    },
    "browse_products": {
        "fa": "{category} ({count}) — برای جزئیات روی هر کدام بزنید:",
        "en": "{category} ({count}) — tap one for details:",
    },
    "products": {"fa": "کالاها", "en": "Products"},
    "product_count": {"fa": "{count} کالا", "en": "{count} products"},
    "product_count_one": {"fa": "۱ کالا", "en": "1 product"},
    "in_stock": {"fa": "موجود", "en": "in stock"},
    "out_of_stock": {"fa": "ناموجود", "en": "out of stock"},
    "in_stock_count": {"fa": "موجود ({count} عدد)", "en": "in stock ({count})"},
    "buy_this": {"fa": "خرید همین کالا", "en": "Buy this"},
    "details_button": {"fa": "مشخصات کالا", "en": "Details"},
    "warranty_period": {
        "fa": "{months} ماه",
        "en": "{months} months",
    },
    "warranty_period_none": {
        "fa": "ندارد",
        "en": "none",
    },
    "warranty_sentence": {
        "fa": "{months} ماه گارانتی",
        "en": "{months} months' warranty",
    },
    "warranty_sentence_none": {
        "fa": "بدون گارانتی",
        "en": "no warranty",
    },
    "product_details": {
        "fa": "{product}\nدسته: {category}\nقیمت: {price}\nموجودی: {stock}\nگارانتی: {warranty}",
        "en": "{product}\nCategory: {category}\nPrice: {price}\nAvailability: {stock}\nWarranty: {warranty}",
    },
    "price_for_quantity": {
        "fa": "{quantity} عدد: {total}",
        "en": "{quantity} of them: {total}",
    },
    "product_price": {
        "fa": "قیمت {product}: {price} (موجود)",
        "en": "The price of the {product}: {price} (in stock).",
    },
    "product_price_out_of_stock": {
        "fa": "قیمت {product}: {price} — متأسفانه فعلاً ناموجود است.",
        "en": "The price of the {product}: {price} — sorry, it is out of stock at the moment.",
    },
    "compare_line": {
        "fa": "• {product}: {price}، {warranty}، {stock}",
        "en": "• {product}: {price}, {warranty}, {stock}",
    },
    "compare": {
        "fa": "{lines}\nارزان‌تر: {cheapest} ({difference} کمتر).",
        "en": "{lines}\nCheaper: {cheapest} ({difference} less).",
    },
    "compare_need_two": {
        "fa": "برای مقایسه نام دو کالا را لازم دارم.",
        "en": "I need the names of two products to compare them.",
    },
    # ------------------------------------------------------------------ decision
    "order_placed": {
        "fa": "سفارش {order_id} ثبت شد: {quantity} × {product}، مبلغ {total}.\nبرای پرداخت: {link}",
        "en": "Order {order_id} is placed: {quantity} × {product}, total {total}.\nPay here: {link}",
    },
    "out_of_stock_cannot_order": {
        "fa": "متأسفم، {product} فعلاً ناموجود است و نمی‌شود سفارشش داد.",
        "en": "Sorry, the {product} is out of stock at the moment, so it can't be ordered now.",
    },
    "out_of_stock_order": {
        "fa": "متأسفم، این کالا به این تعداد موجود نیست.",
        "en": "Sorry, this product is not in stock in that quantity.",
    },
    "discount_applied": {
        "fa": "کد {code} روی سفارش {order_id} اعمال شد: {amount} تخفیف، مبلغ نهایی {total}.\nبرای پرداخت: {link}",
        "en": "Code {code} is applied to order {order_id}: {amount} off, new total {total}.\nPay here: {link}",
    },
    "referral_programme": {
        "fa": "🎁 معرفی به دوستان: {reward}",
        "en": "🎁 Refer a friend: {reward}",
    },
    "club_programme": {
        "fa": "⭐ باشگاه مشتریان: {about}\nسطح‌ها (امتیاز لازم): {levels}",
        "en": "⭐ Customer club: {about}\nLevels (points needed): {levels}",
    },
    "discount_for_this_order": {
        "fa": "کد {code} روی همین سفارش اعمال می‌شود: {amount} تخفیف، مبلغ نهایی {total}.",
        "en": "Code {code} will be taken off this order: {amount} off, so {total} to pay.",
    },
    "discount_code_for_this_order": {
        "fa": "کد تخفیف را بنویسید تا روی همین سفارش اعمال شود.",
        "en": "Type the discount code and I'll take it off this order.",
    },
    "total_with_code": {
        "fa": "{total} (با کد {code})",
        "en": "{total} (with code {code})",
    },
    "order_placed_without_code": {
        "fa": "کد {code} روی این سفارش اعمال نشد؛ سفارش بدون آن ثبت شد.",
        "en": "Code {code} could not be used on this order, so it is placed without it.",
    },
    "discount_valid": {
        "fa": "کد {code} معتبر است و هنگام پرداخت اعمال می‌شود.{extra}",
        "en": "Code {code} is valid and will be applied at checkout.{extra}",
    },
    "discount_valid_min_total": {
        "fa": " (برای خرید حداقل {min_total})",
        "en": " (for orders of at least {min_total})",
    },
    "discount_unknown_code": {
        "fa": "این کد تخفیف وجود ندارد. لطفاً املای کد را بررسی کنید.",
        "en": "This discount code doesn't exist. Please check the spelling.",
    },
    "discount_expired": {
        "fa": "متأسفم، مهلت این کد تخفیف تمام شده است.",
        "en": "Sorry, this discount code has expired.",
    },
    "discount_not_started": {
        "fa": "این کد تخفیف هنوز فعال نشده است.",
        "en": "This discount code is not active yet.",
    },
    "discount_usage_limit": {
        "fa": "متأسفم، ظرفیت استفاده از این کد تمام شده است.",
        "en": "Sorry, this code has been used up.",
    },
    "discount_min_total": {
        "fa": "این کد برای سفارش‌های حداقل {min_total} است.",
        "en": "This code is for orders of at least {min_total}.",
    },
    "discount_inactive": {
        "fa": "این کد تخفیف فعال نیست.",
        "en": "This discount code is not active.",
    },
    "payment_not_received": {
        "fa": "سفارش {order_id} به مبلغ {total} هنوز در انتظار پرداخت است و پرداختی برایش به ما نرسیده است. برای پرداخت دوباره: {link}",
        "en": "Order {order_id} ({total}) is still awaiting payment: no payment for it has reached us. To pay again: {link}",
    },
    "payment_received": {
        "fa": "پرداخت سفارش {order_id} به مبلغ {total} در {date} به ما رسیده است (وضعیت سفارش: {status}).",
        "en": "We received the payment of {total} for order {order_id} on {date} (order status: {status}).",
    },
    "payment_problem_ticket": {
        "fa": "مشکل پرداختتان را ثبت کردم؛ شماره پیگیری: {reference}. اگر مبلغی کم شده و سفارش ثبت نشده، معمولاً تا ۷۲ ساعت خودکار برمی‌گردد؛ همکاران مالی هم بررسی می‌کنند و خبرتان می‌کنند.",
        "en": "I've logged your payment problem; reference {reference}. If money was taken without an order, banks usually return it within 72 hours; our finance team will also check and get back to you.",
    },
    # ------------------------------------------------------------------ retention
    "track_status": {
        "fa": "سفارش {order_id} (ثبت {created}، مبلغ {total}): {status}",
        "en": "Order {order_id} (placed {created}, total {total}): {status}",
    },
    "order_shipped_on": {"fa": "ارسال: {date}", "en": "Shipped: {date}"},
    "order_tracking": {"fa": "کد رهگیری {carrier}: {code}", "en": "{carrier} tracking code: {code}"},
    "order_delivered_on": {"fa": "تحویل: {date}", "en": "Delivered: {date}"},
    "order_pay_link": {"fa": "برای پرداخت: {link}", "en": "Pay here: {link}"},
    "order_changed_address": {
        "fa": "نشانی تحویل سفارش {order_id} به «{value}» تغییر کرد.",
        "en": "The delivery address of order {order_id} is now \"{value}\".",
    },
    "order_changed_time": {
        "fa": "زمان تحویل سفارش {order_id} «{value}» ثبت شد.",
        "en": "The delivery time of order {order_id} is now \"{value}\".",
    },
    "status_change": {
        "fa": "متأسفم، سفارش در وضعیت «{status}» است و دیگر قابل تغییر نیست.",
        "en": "Sorry, the order is {status} and can no longer be changed.",
    },
    "status_cancel": {
        "fa": "متأسفم، سفارش در وضعیت «{status}» است و دیگر قابل لغو نیست. اگر کالا به دستتان رسیده، می‌توانید مرجوعش کنید.",
        "en": "Sorry, the order is {status} and can no longer be cancelled. Once delivered you can return it instead.",
    },
    "status_return": {
        "fa": "فقط سفارش‌های تحویل‌شده مرجوع می‌شوند؛ این سفارش در وضعیت «{status}» است.",
        "en": "Only delivered orders can be returned; this order is {status}.",
    },
    "status_discount": {
        "fa": "کد تخفیف فقط روی سفارش در انتظار پرداخت اعمال می‌شود؛ این سفارش «{status}» است.",
        "en": "A discount code applies only to an order awaiting payment; this order is {status}.",
    },
    "status_order": {
        "fa": "این کار برای سفارشی در وضعیت «{status}» ممکن نیست.",
        "en": "That isn't possible for an order that is {status}.",
    },
    "not_allowed": {
        "fa": "متأسفم، این درخواست طبق قوانین فروشگاه ممکن نیست.",
        "en": "Sorry, the shop's rules don't allow this.",
    },
    "order_kept": {
        "fa": "باشه، سفارش {order_id} لغو نشد.",
        "en": "OK, order {order_id} stays as it is.",
    },
    "order_cancelled": {
        "fa": "سفارش {order_id} لغو شد.",
        "en": "Order {order_id} is cancelled.",
    },
    "order_cancelled_refund": {
        "fa": "سفارش {order_id} لغو شد. مبلغ پرداختی ظرف ۳ تا ۵ روز کاری به حسابتان برمی‌گردد.",
        "en": "Order {order_id} is cancelled. Your payment will be refunded within 3–5 working days.",
    },
    "return_registered": {
        "fa": "درخواست مرجوعی سفارش {order_id} ثبت شد؛ شماره پیگیری: {reference}.\n{returns}",
        "en": "The return of order {order_id} is registered; reference {reference}.\n{returns}",
    },
    "return_window_expired": {
        "fa": "متأسفم، مهلت مرجوعی این سفارش {deadline} تمام شده است. اگر کالا ایراد دارد، می‌توانید از گارانتی استفاده کنید یا مشکل را گزارش دهید.",
        "en": "Sorry, the return window of this order ended on {deadline}. If the product is faulty you can use the warranty or report the problem.",
    },
    "not_returnable": {
        "fa": "متأسفم، این کالا طبق قوانین فروشگاه قابل مرجوع کردن نیست.",
        "en": "Sorry, this product can't be returned under the shop's policy.",
    },
    "problem_ticket": {
        "fa": "مشکل را ثبت کردم؛ شماره پیگیری: {reference}. همکاران پشتیبانی بررسی می‌کنند و با شما تماس می‌گیرند.",
        "en": "I've logged the problem; reference {reference}. Our support team will look into it and contact you.",
    },
    "problem_ticket_no_contact": {
        "fa": "مشکل را ثبت کردم؛ شماره پیگیری: {reference}. همکاران پشتیبانی شماره‌ای از شما ندارند؛ برای پیگیری، "
              "با همین شماره پیگیری با {phone} تماس بگیرید.",
        "en": "I've logged the problem; reference {reference}. Our support team has no number of yours: to follow it "
              "up, call {phone} with this reference.",
    },
    # ------------------------------------------------------------------ advocacy
    "feedback_thanks": {
        "fa": "ممنون از نظرتان! 🌷 بازخورد شما ثبت شد.",
        "en": "Thank you for your feedback! It has been recorded.",
    },
    "feedback_thanks_low": {
        "fa": "ممنون که گفتید؛ متأسفیم که راضی نبودید. بازخوردتان ثبت شد و اگر بخواهید با نوشتن «اپراتور» یکی از همکاران پیگیری می‌کند.",
        "en": "Thank you for telling us, and sorry we let you down. Your feedback is recorded; type \"agent\" if you'd like a colleague to follow up.",
    },
    "review_thanks": {
        "fa": "نظر شما درباره {product} ثبت شد. ممنون! 🌟",
        "en": "Your review of {product} is saved. Thank you!",
    },
    "review_failed": {
        "fa": "متأسفم، ثبت نظر ممکن نشد.",
        "en": "Sorry, the review could not be saved.",
    },
    "referral_code": {
        "fa": "کد معرف شما: {code}\n{reward}",
        "en": "Your referral code: {code}\n{reward}",
    },
    "loyalty": {
        "fa": "امتیاز باشگاه شما: {points} — سطح {level}.\n{how}",
        "en": "You have {points} club points — {level} level.\n{how}",
    },
    "loyalty_next": {
        "fa": "با {points} امتیاز دیگر به سطح {level} می‌رسید.",
        "en": "{points} more points to reach {level}.",
    },
    "loyalty_none": {
        "fa": "هنوز امتیازی در باشگاه مشتریان ندارید.",
        "en": "You have no club points yet.",
    },
    # ------------------------------------------------------------------ suggestion buttons (intent -> title)
    "intent.ask_about_company": {"fa": "درباره فروشگاه", "en": "About the shop"},
    "intent.ask_contact_info": {"fa": "تماس با ما", "en": "Contact details"},
    "intent.ask_promotions": {"fa": "تخفیف‌ها", "en": "Current offers"},
    "intent.browse_products": {"fa": "دیدن کالاها", "en": "Browse products"},
    "intent.ask_product_details": {"fa": "مشخصات کالا", "en": "Product details"},
    "intent.compare_products": {"fa": "مقایسه کالاها", "en": "Compare products"},
    "intent.ask_price": {"fa": "قیمت کالا", "en": "A price"},
    "intent.ask_shipping": {"fa": "ارسال و هزینه آن", "en": "Shipping"},
    "intent.ask_warranty": {"fa": "گارانتی و مرجوعی", "en": "Warranty and returns"},
    "intent.place_order": {"fa": "ثبت سفارش", "en": "Place an order"},
    "intent.ask_payment_methods": {"fa": "روش‌های پرداخت", "en": "Payment methods"},
    "intent.apply_discount_code": {"fa": "کد تخفیف", "en": "Use a discount code"},
    "intent.payment_problem": {"fa": "مشکل پرداخت", "en": "Payment problem"},
    "intent.track_order": {"fa": "پیگیری سفارش", "en": "Track an order"},
    "intent.change_order": {"fa": "تغییر سفارش", "en": "Change an order"},
    "intent.cancel_order": {"fa": "لغو سفارش", "en": "Cancel an order"},
    "intent.return_item": {"fa": "مرجوع کردن کالا", "en": "Return an item"},
    "intent.report_problem": {"fa": "گزارش مشکل کالا", "en": "Report a problem"},
    "intent.ask_usage_help": {"fa": "راهنمای استفاده", "en": "How to use a product"},
    "intent.give_feedback": {"fa": "ثبت نظر درباره خدمات", "en": "Give feedback"},
    "intent.leave_review": {"fa": "نوشتن نقد کالا", "en": "Review a product"},
    "intent.ask_referral": {"fa": "کد معرف", "en": "Referral code"},
    "intent.ask_loyalty_points": {"fa": "امتیاز باشگاه", "en": "Club points"},
    "intent.request_human": {"fa": "صحبت با پشتیبان", "en": "Talk to a person"},
    "intent.bot_challenge": {"fa": "شما ربات هستید؟", "en": "Are you a bot?"},
    "intent.switch_language": {"fa": "English", "en": "فارسی"},
}
