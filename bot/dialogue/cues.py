"""Conversational cues in a customer's words: "what?", "I meant…", "it", "the cheaper one".

The intent catalogue (SPEC.md) is fixed, so these repair signals are not
intents: they are read from the text, after the same Persian normalisation as
the NLU (Arabic letters, digits, ZWNJ), in Persian, Finglish and English.
Each detector answers one question about one message; `bot.dialogue.moves`
decides what the conversation does with the answers.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional, Tuple

from bot.text.persian import ZWNJ, normalise, to_ascii_digits

# The Persian letters, for "not inside a Persian word" look-arounds.
# Persian and Arabic letters (and their diacritics), not the punctuation and digits of that block:
# «خداحافظ؟» and «ولش کن،» end a word at ؟ and ،.
_FA = "\u0620-\u065f\u066e-\u06d3\u06d5\u06fa-\u06ff"


def canonical(text: str) -> str:
    """Normalised, lower case, ZWNJ as a space, one space between words."""
    clean = normalise(text or "").replace(ZWNJ, " ").lower()
    return re.sub(r"\s+", " ", clean).strip()


def word_count(text: str) -> int:
    return len(canonical(text).split())


def _fa(pattern: str) -> str:
    """A Persian alternative that must stand as whole words."""
    return rf"(?<![{_FA}])(?:{pattern})(?![{_FA}])"


# "what?", «چی گفتی؟» — the customer did not get the last answer. Whole message only.
_REPEAT_PHRASE = (
    r"(?:what|wait what|what\?+|huh|pardon|sorry|come again|say (?:that|it) again|say again|wdym|wym|[?؟]+|"
    r"(?:can|could|would) you (?:please )?(?:repeat|say) (?:that|it|this)(?: again| one more time)?|repeat(?: that| it)?(?: please)?|one more time|"
    r"what did you (?:just )?say|i didn'?t (?:get|catch|understand) (?:that|it|you)|what was that|"
    r"i (?:still )?(?:don'?t|do not) (?:get|understand)(?: (?:it|that|this|you|what you mean|anything))?(?: still)?|"
    r"i (?:don'?t|do not) (?:get|understand|know) what you (?:want|mean|need|are asking|'?re asking)(?: from me| me to do)?|"
    r"what do you want (?:from me|me to (?:do|say|type|write))|"
    r"(?:i'?m|im|i am) (?:so |really |a bit |a little |kind of |totally |very )?(?:confused|lost)(?: (?:right )?now| here)?|"
    r"(?:this|that|it)(?:'?s| is) (?:so |really |a bit |very )?confusing|you lost me|you'?ve lost me|"
    r"(?:i'?m|im|i am) not following(?: you)?|i (?:don'?t|do not) follow(?: you)?|(?:i'?m |im )?not sure what you mean|"
    r"i (?:don'?t|do not|didn'?t|did not) (?:get|understand) what you (?:said|just said|wrote|mean|meant)|"
    r"what do you mean(?: by (?:that|this|it))?|what does (?:that|this|it) (?:even )?mean|"
    r"what am i (?:agreeing to|saying yes to|confirming)|"
    r"i have no idea what (?:that|this|it) means|what are you (?:talking about|saying)|(?:that )?makes no sense|"
    r"(?:can|could) you (?:please )?explain (?:that|it|this)(?: again| better| more simply)?|"
    r"(?:still )?(?:don'?t|do not) get it|you'?re not making (?:any )?sense|what are you even (?:talking about|saying)|"
    r"(?:that|this|your) (?:answer |reply )?makes no sense(?: to me)?|wtf|"
    r"what the (?:hell|heck) (?:does (?:that|this) mean|are you (?:talking about|saying))|"
    r"(?:can|could) you (?:please )?(?:say|put|explain) (?:it|that|this) (?:differently|another way|in other words|more simply|simpler)|"
    r"(?:in )?simpler words|that went over my head|h+m+\?+|explain(?: (?:it|that|this))?(?: again| better| more simply)?|"
    r"why(?: is that| can'?t i| can'?t you)?|but why|how come|"   # not "why not": a yes to an offer
    r"chi|chi goftin?|chi goftid|chi shod|chi migi|chi migin|motevajeh nashodam|nafahmidam|dobare begoo?|ye bar dige begoo?|"
    r"gij shodam|manzooret chie|manzoretoon chie|"
    r"چی|چی شد|چی گفتی|چی گفتین|چی گفتید|چی گفتی دقیقا|ببخشید چی|ببخشید چی گفتید|"
    r"متوجه نشدم|نفهمیدم|(?:میشه |می شه |میشه یه |لطفا )?(?:دوباره|یه بار دیگه|یک بار دیگه|یکبار دیگه) (?:بگو|بگی|بگید|بگین|بگویید|میگی|میگید|میگین|بنویس|بنویسید)|"
    r"یک بار دیگر بگویید|تکرار کن|تکرار کنید|میشه تکرار کنی|میشه تکرار کنید|میشه دوباره بگی|"
    r"میشه دوباره بگید|یعنی چی|منظورت چیه|منظورتون چیه|منظورتون چیست|(?:من )?گیج شدم|سر در نمیارم|نمیفهمم|نمی فهمم|"
    r"(?:اصلا )?نفهمیدم چی (?:گفتی|گفتین|گفتید|میگی|میگین)|منظورتو نمیفهمم|منظورتونو نمیفهمم|منظورتون رو نمیفهمم|"
    r"متوجه منظورتون نشدم|متوجه منظورت نشدم|چی میگی|چی میگین|چی میگید|(?:واضح|ساده) ?تر (?:بگو|بگید|بگین|توضیح بده|توضیح بدید)|"
    r"چرا|چرا نمیشه|چرا نمی شه|(?:آخه|اخه) چرا|چرا آخه|چرا اخه)"
)
_REPEAT_FILLER = r"(?: please| لطفا| lol| haha| to me| for me| exactly| at all| اصلا| آخه| واقعا| دیگه)?"
# one or two such phrases ("chi? nafahmidam", "huh? say that again") and nothing else
_REPEAT = re.compile(
    r"^(?:(?:sorry|pardon|excuse me|um+|uh+|eh|huh|hmm+|ugh|ok|okay|well|wait|seriously|nope|no|now|ok now|"
    r"bebakhshid|ببخشید|ببخشین|ببخشيد|هان|ها|عه|اصلا)[ ,،]*)?"
    + _REPEAT_PHRASE + _REPEAT_FILLER + r"(?:[ ?!.؟,،]+" + _REPEAT_PHRASE + _REPEAT_FILLER + r")?[ ?!.؟]*$"
)


def asks_to_repeat(text: str) -> bool:
    """The whole message asks to hear the last answer again."""
    return bool(_REPEAT.match(canonical(text)))


# "what do I do now?", «حالا باید چیکار کنم؟» — lost in the middle of a question. Whole message only.
_WHAT_NEXT = re.compile(
    r"^(?:(?:ok|okay|so|well|fine|alright|hmm|um+|and|khob|خب|خوب|باشه|اوکی|ok so)[ ,.،]*)*"
    r"(?:what (?:do|should|shall|can) i do(?: now| next| then| here)?|what now|now what|what next|what'?s next|"
    r"so what now|what am i supposed to do(?: now)?|what do you need(?: from me)?|what do you want(?: from me)?|"
    r"how do i (?:continue|go on|proceed)|what(?:'?s| is) the next step|"
    r"hala chikar konam|chikar konam|bayad chikar konam|"
    r"حالا چیکار کنم|چیکار کنم|باید چیکار کنم|الان باید چیکار کنم|حالا باید چیکار کنم|چه کار کنم|باید چه کار کنم|"
    r"حالا چی|خب حالا چی|بعدش چی|مرحله بعد چیه|چی باید بدم|چی لازم دارید|چی میخواید|چی می خواید)"
    r"(?: now| الان| حالا)?[ ?!.؟]*$"
)


def asks_what_next(text: str) -> bool:
    """The whole message asks what to do now: inside a form, the question is asked again."""
    return bool(_WHAT_NEXT.match(canonical(text)))


# "sorry, I meant X", «نه، منظورم X بود» — a correction of something just said.
_CORRECTION = re.compile(
    r"\b(?:i meant|i mean|meant to say|i said|not that one|wrong one|my mistake|my bad|correction|"
    r"actually|rather|instead|oops|no wait|sorry no|manzooram|manzuram|eshtebah|"
    r"(?:typed|wrote|entered|gave|put|said) (?:it|that|the \w+|my \w+|you the \w+)?\s?wrong(?:ly)?|wrong number|"
    r"the (?:right|correct) (?:one|number) is|(?:this|that) is the (?:right|correct) (?:one|number))\b|"
    r"^sorry,? (?:the|it'?s|make (?:it|that))\b|\bnot the \w+(?: \w+)?,? (?:the|i)\b|,? not the \w+(?: \w+)?$|"
    + _fa(r"منظورم|منظور من|اشتباه گفتم|اشتباه نوشتم|اشتباه شد|ببخشید اشتباه|نه اون|نه این|اونو نه|اینو نه|"
          r"غلط نوشتم|منظورم بود|اصلاح میکنم|بجاش|به جاش|به جای|اشتباه زدم|اشتباه وارد کردم|اشتباه دادم|"
          r"اشتباهی زدم|اشتباهی نوشتم|غلط زدم|غلط وارد کردم|(?:شماره|شمارم|شمارمو|شماره ام) درست(?:م|ش)? (?:اینه|این است|هست|است)|"
          r"درستش اینه|درستش این است")
)
_STARTS_WITH_NO = re.compile(r"^(?:no|nope|nah|na|نه|نخیر)\b[ ,،.]*(?=\S)")


# "not", «نه», "instead of" right before a product name: the customer means another one.
_NEGATION_AT_END = re.compile(r"(?:\bnot|\bnot the|\binstead of(?: the)?|\brather than(?: the)?|نه|به جای|بجای)\s*$",
                              re.IGNORECASE)


def negates_what_follows(text_before: str) -> bool:
    """The words right before a name negate it ("…the s24 not |the a55", «اس ۲۴ نه |آ ۵۵»)."""
    return bool(_NEGATION_AT_END.search(text_before.rstrip(" ,،")))


# "first show me…", «قبلش …»: a look around before answering, not leaving the question.
_FIRST = re.compile(r"\b(?:first|before that|in the meantime|meanwhile|aval|ghablesh)\b|" + _fa(r"اول|قبلش|قبل از اون|تا اون موقع"))


def digresses_first(text: str) -> bool:
    """The customer will come back to the question after this ("first show me your headphones")."""
    return bool(_FIRST.search(canonical(text)))


def starts_with_no(text: str) -> bool:
    """The message opens with a no ("nah, …", «نه، …») and goes on."""
    return bool(_STARTS_WITH_NO.match(canonical(text)))


def is_correction(text: str) -> bool:
    """Words that correct what the customer said before ("I meant", «منظورم», "no, the A55")."""
    clean = canonical(text)
    return bool(_CORRECTION.search(clean) or _STARTS_WITH_NO.match(clean))


# "and the S24?", "what about…", «ایرپاد چی؟» — the same question about something else.
_ELLIPSIS = re.compile(
    r"(?:^|[.!?,،؟]\s*)(?:(?:hmm+|um+|ok|okay|oh|so|well|right)[ ,]*)?"
    r"(?:and|what about|how about|and what about|also|same for|what of|and for|or)\b|"
    r"(?:چی|چطور|چطوره|چه طور|چی میشه|چند)\s*[?؟]*$|^(?:و|اون وقت|پس)\s|"
    r"\b(?:is it )?the same for\b|(?:هم|همم) (?:همینطوره|همینطوریه|همینه|همین طوره|همینجوریه|همین جوریه)\s*[?؟]*$"
)


def is_follow_up(text: str) -> bool:
    """A short follow-up that leans on the previous question ("and the S24?", «ایرپاد چی؟»)."""
    clean = canonical(text)
    return word_count(clean) <= 8 and bool(_ELLIPSIS.search(clean))


# "buy it", «همینو میخوام» — a product the conversation already talked about.
_REFERENCE = re.compile(
    r"\b(?:it|its|it's|this|that|this one|that one|the same|same one|them|these|those|hamin|hamino|hamun|hamoon|"
    r"hamoono|hamuno|ino|oono|unu)\b|"
    + _fa(r"همین|همینو|همینه|همینرو|همین رو|همین را|همون|همونو|همونه|همونی|همان|اینو|این رو|این را|این یکی|"
          r"اونو|اون رو|آن را|اون یکی|اینا|اینها|اونا|"
          # "this laptop", «همین هدفون»: a demonstrative before the kind of product
          r"(?:این|همین|همون|اون) (?:کالا|محصول|گوشی|لپ ?تاپ|هدفون|هندزفری|کنسول|تلویزیون|تی وی|ساعت|دوربین|"
          r"اسپیکر|یخچال|جارو(?: برقی)?|ماشین|تبلت|مانیتور|کیبورد|ماوس|پاور ?بانک|شارژر|دسته)|"
          # "its price / warranty…": a possessive ش on the words customers ask about
          r"(?:گارانتی|قیمت|مشخصات|رنگ|موجودی|ارسال|ظرفیت|باتری|وزن|سایز|ابعاد|کیفیت|مدل|دوربین|شارژ|"
          r"حافظه|نصب|راه اندازی|تحویل|ضمانت)(?: ?ش| ?اش)(?:و|رو|چی|چیه|چنده|چقدره|چطوره)?")
)


def refers_back(text: str) -> bool:
    """The message points at something said before ("it", "this one", «همینو», «اونو»)."""
    return bool(_REFERENCE.search(canonical(text)))


_COMPARES = re.compile(
    r"\b(?:cheaper than|more expensive than|pricier than|better than|worse than|compared? (?:to|with)|"
    r"vs|versus)\b|\baz\s.{1,40}?\s(?:(?:arzoon|arzoun|arzun|geroon|gerun|gheymat) ?tar|behtar|badtar)|"
    + _fa(r"(?:(?:ارزون|ارزان|گرون|گران) ?تر|بهتر|بدتر) (?:از|ازه)|در مقایسه با|مقایسه ?(?:با|اش|ش)|"
          r"(?:^|\s)از\s.{1,40}?\s(?:(?:ارزون|ارزان|گرون|گران) ?تر|بهتر|بدتر)(?:ه|ی|ین|یه)?")   # «از آیفون ارزون‌تره؟»
)


def compares(text: str) -> bool:
    """The message sets a product against another ("is it cheaper than the Sony?", «بهتر از ایرپاده؟»)."""
    return bool(_COMPARES.search(canonical(text)))


_BOTH = re.compile(r"\b(?:both|both of them|the two|these two|those two|them|these|those)\b|"
                   + _fa(r"هر ?دو(?:تا)?(?:شون|ش)?|این ?دو ?تا|اون ?دو ?تا|این ?دو|این ?ها|اینا|اونا"))


def means_both(text: str) -> bool:
    """The message means the products just talked about together ("compare both", «این دوتا»)."""
    return bool(_BOTH.search(canonical(text)))


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "یک": 1, "یه": 1, "دو": 2, "سه": 3, "چهار": 4, "پنج": 5, "شش": 6, "هفت": 7, "هشت": 8,
                 "نه": 9, "ده": 10}
_NUMBER = r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)"
_NEW_QUANTITY = (
    re.compile(rf"\b(?:make it|make that|change it to|change the quantity to|i want|i need|i'?ll take|actually)\s+{_NUMBER}\b"),
    re.compile(rf"\b{_NUMBER}\s+(?:of them|of those|pieces|pcs|units|items)\b"),
    re.compile(_fa(r"(\d{1,2}|یک|یه|دو|سه|چهار|پنج|شش|هفت|هشت|ده) ?(?:تا|عدد|دونه)(?: ?(?:کن|بکن|بکنش|بشه|باشه|میخوام|بذار|بزار))?")),
)


def new_quantity(text: str) -> Optional[int]:
    """A quantity the customer changes to at a confirmation ("oh make it 3 please", «۲ تا کن»)."""
    clean = canonical(text)
    for pattern in _NEW_QUANTITY:
        found = pattern.search(clean)
        if found:
            word = found.group(1)
            number = int(word) if word.isdigit() else _NUMBER_WORDS.get(word)
            if number and 1 <= number <= 20:
                return number
    return None


_CHEAPER = re.compile(r"\b(?:cheaper|cheapest|less expensive|lower price|arzoontar|arzuntar|arzoon tar)\b|"
                      + _fa(r"(?:ارزون|ارزان|کم قیمت|ارزون قیمت) ?تر(?:ین|ه|ی|یه|ینه)?(?:ش|شو|شون|و|رو)?|قیمت کمتر"))
# "anything cheaper?", "too expensive": other products for less, not the cheaper of those shown.
_OTHERS_FOR_LESS = re.compile(
    r"\b(?:anything|something|any|other|others|ones|options|alternatives?|models?) (?:a bit |a little |much )?"
    r"(?:cheaper|less expensive)\b|\b(?:cheaper|less expensive) (?:ones|options|alternatives?|models?|stuff|things)\b|"
    + _fa(r"(?:ارزون|ارزان) ?تر(?:ش)? (?:ندارید|ندارین|نداری|دارید|دارین|هم دارید|هم دارین)|چیز (?:ارزون|ارزان) ?تری|"
          r"(?:ارزون|ارزان) ?تر از (?:این|اون)"))


def asks_for_cheaper_others(text: str) -> bool:
    """"too expensive, anything cheaper?", «ارزون‌تر ندارید؟»: other products for less than the one
    talked about, not the cheaper of the products just shown ("too expensive, thanks anyway" alone
    is a closing)."""
    return bool(_OTHERS_FOR_LESS.search(canonical(text)))


_PRICIER = re.compile(r"\b(?:pricier|more expensive|most expensive|priciest|gerountar|gerontar)\b|"
                      + _fa(r"(?:گرون|گران) ?تر(?:ین|ه|ی|یه|ینه)?(?:ش|شو|شون|و|رو)?|قیمت بیشتر"))
_ORDINALS = (
    (0, re.compile(r"\b(?:first|1st|first one|avali|avalish)\b|" + _fa(r"اولی(?:ش|شو|و|رو|ه)?|اولین"))),
    (1, re.compile(r"\b(?:second|2nd|second one|dovomi|dovomish)\b|" + _fa(r"دومی(?:ش|شو|و|رو|ه)?"))),
    (2, re.compile(r"\b(?:third|3rd|third one|sevomi)\b|" + _fa(r"سومی(?:ش|شو|و|رو|ه)?"))),
)


# The whole message a position among up to six products: "2", "#3", "number 2", "no. 2 please", «۲».
_BARE_NUMBER = re.compile(r"(?:the |number |no\.? ?|#|option |item )?([1-6])(?: please| pls|\.|!)?|"
                          r"(?:شماره |گزینه )?([1-6])(?: لطفا| رو| را)?")
_OTHER = re.compile(r"\b(?:the other one|the other|other one)\b|"
                    + _fa(r"اون یکی|آن یکی|اون یکیو|اون یکی رو|یکی دیگه|اونیکی|اونیکیو|اونیکی رو|اونیکیه|اونیکیش"))


def choice_among(text: str) -> Optional[str]:
    """Which of several products just shown the message picks: `cheapest`, `priciest`,
    `other` (than the one talked about), `in_stock` or `index:N` (0-based); None if it does not
    pick by position, price or stock."""
    clean = canonical(text)
    if _OTHER.search(clean):
        return "other"
    if _CHEAPER.search(clean):
        return "cheapest"
    if _PRICIER.search(clean):
        return "priciest"
    if _WHICH.search(clean) and _IN_STOCK.search(clean):
        return "in_stock"   # "which one is in stock?", «کدومش موجوده؟»
    number = _BARE_NUMBER.fullmatch(clean)
    if number:   # "2" after a list of buttons: the second (not a rating of the shop)
        return f"index:{int(number.group(1) or number.group(2)) - 1}"
    for index, pattern in _ORDINALS:
        if pattern.search(clean):
            return f"index:{index}"
    return None


_IN_STOCK = re.compile(r"\b(?:in stock|available|have it|got it)\b|" + _fa(r"موجوده|موجود هست|موجوده؟|موجود داری|دارین"))
_WHICH = re.compile(r"\bwhich\b|\bkodoom|\bkodum|" + _fa(r"کدوم(?:ش|شون|یکی|اش|ا)?|کدام(?:ش|یک)?|کدوم یکی|کدوم یک"))


def asks_which(text: str) -> bool:
    """The message asks which of several products is meant ("which one is cheaper?",
    «کدومش ارزون‌تره؟»), not for another product ("anything cheaper?")."""
    return bool(_WHICH.search(canonical(text)))


# "…to my laptop", «…به گوشیم»: the device a product is used with, not the product asked about.
_TARGET_DEVICE = re.compile(r"\b(?:to|with|into|on|onto|from|for) (?:my|our|his|her|the|a|an) [a-z]+(?: [a-z0-9]+)?\b|"
                            + _fa(r"(?:به|با|روی|رو|برای) (?:[^\s]+ )?[^\s]+م"))


def without_target_device(text: str) -> str:
    """The message without the device the product goes with ("connect my logitech to my laptop"
    asks about the Logitech, not laptops)."""
    return _TARGET_DEVICE.sub(" ", canonical(text))


# An accessory asked for a device: "a charger for the S24", «قاب برای آیفون ۱۵» — the device named
# after it is not the product asked about.
_ACCESSORY = re.compile(r"\b(?:charger|chargers|cable|cables|case|cases|cover|covers|screen protector|adapter|"
                        r"strap|straps|band for|power ?bank|earbuds|earphones|headphones|headset|speaker|mouse|"
                        r"keyboard|controller|ghab|sharjer|kabl)\b|"
                        + _fa(r"شارژر|شارژرش|کابل|قاب|قابش|کاور|گلس|محافظ صفحه|آداپتور|بند ساعت|پاوربانک|هندزفری|هدفون|"
                              r"اسپیکر|ماوس|موس|کیبورد|دسته"))
# "works with", "connect to", «سازگار», «وصل»: the product named next is what something goes with.
_GOES_WITH = re.compile(r"\b(?:works?|compatible|connect|pair)\b|" + _fa(r"سازگار|وصل"))
_FOR_THE_DEVICE = re.compile(r"(?:\b(?:for|with|to|fits?|compatible with)(?: (?:my|our|the|a|an))?|"
                             + _fa(r"برای|واسه|به|با|مخصوص|مناسب") + r")\s*$")


def names_an_accessory(word: str) -> bool:
    """"charger", «قاب»: a word for a kind of product that goes with another."""
    return bool(_ACCESSORY.fullmatch(canonical(word)))


_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,19}")


def looks_like_code(text: str) -> bool:
    """One token in capitals or with digits ("NOWRUZ", "yalda10"): typed as a code."""
    token = (text or "").strip().strip(".!")
    return bool(_CODE.fullmatch(token)) and (token.isupper() or any(c.isdigit() for c in token)) \
        and any(c.isalpha() for c in token)


_VARIANT = re.compile(r"\b(?:colou?rs?|black|white|blue|red|green|gold|golden|silver|gr[ae]y|pink|purple|midnight|"
                      r"\d+ ?(?:gb|tb|gig)|sizes?|version with|rang|meshki|sefid)\b|"
                      + _fa(r"رنگ|رنگش|رنگاش|رنگای|رنگهای|مشکی|مشکیش|مشکیشو|سفید|سفیدش|سفیدشو|آبی|ابی|قرمز|سبز|طلایی|"
                            r"نقره ای|نقره‌ای|خاکستری|صورتی|بنفش|سرمه ای|سایز|سایزش") + r"|\d+ ?(?:گیگ|ترا)")


def asks_variant(text: str) -> bool:
    """The message asks for a colour, a size or a storage version ("do you have it in black?",
    «۲۵۶ گیگش رو دارین؟»), which the catalogue does not record."""
    return bool(_VARIANT.search(canonical(text)))


class AccessoryRequest(NamedTuple):
    """An accessory asked for a device: what the customer wants and the device, in their words."""

    accessory: str   # "screen protector", «قاب»
    device: str      # "iphone 15", «آیفون 15» (canonical text: ASCII digits)


# Things made for one device, which customers name beside it without "for": "iphone 15 case",
# «قاب آیفون ۱۵». Narrower than _ACCESSORY: "sony headphones" are Sony's headphones.
_ATTACHMENT = re.compile(r"(?:screen protectors?|tempered glass|protectors?|cases?|covers?|chargers?|"
                         r"charging cables?|cables?|adapters?|straps?|sleeves?|bags?|skins?|stands?|mounts?|"
                         r"holders?|ghab|sharjer|kabl|glass)$|"
                         r"(?:" + "|".join(("قاب", "قابش", "کاور", "گلس", "محافظ صفحه", "شارژر", "کابل", "آداپتور",
                                            "کیف", "پایه", "هولدر", "بند")) + ")$")
# Words around a device's name that are not part of it.
_NOT_DEVICE = frozenset("""do does you have sell any a an the my our your his her this that it its s is are for with to and
or please pls plz got there some also still in of on which what whats how much price cost costs need want buy
looking i im i'm me we guys do u get can could would fit fits works work compatible
baraye vase vaseye darid darin mikham
برای واسه واسه‌ی مخصوص مناسب دارید دارین دارن هست هستش میخوام میخواستم می خوام موجود موجوده چنده قیمت
یه یک چی چه آیا ایا هم رو را من مال گوشیم برام کدوم""".split())
_FOR_WORDS = frozenset({"for", "with", "fits", "fit", "baraye", "vase", "vaseye", "برای", "واسه", "مخصوص", "مناسب"})


def _device_words(words: list) -> str:
    """The first words that can be a device's name (at most four), up to a word that cannot."""
    device = []
    for word in words:
        if word in _NOT_DEVICE or _ATTACHMENT.fullmatch(word) or _ACCESSORY.fullmatch(word):
            if device:
                break
            continue
        device.append(word)
        if len(device) == 4:
            break
    return " ".join(device)


# "is the galaxy s24 charger included?": a question about what comes with the device.
_COMES_WITH = re.compile(r"\b(?:included|include|includes|comes? with|in the box)\b|"
                         + _fa(r"همراهش|همراهشه|همراه گوشی|داخل جعبه|توی جعبه|تو جعبه|داخل کارتن"))


def accessory_request(text: str) -> Optional[AccessoryRequest]:
    """An accessory asked for a device — "a case for my iphone 15", "iphone 15 case",
    «برای آیفون ۱۵ قاب دارین؟», «قاب آیفون ۱۵» — else None. The device is what the accessory
    must fit, not the product asked about (the shop may sell the phone and no case for it)."""
    words = re.sub(r"[^\w\s]", " ", canonical(text)).split()
    joined = " ".join(words)
    if _COMES_WITH.search(joined):
        return None
    match = _ACCESSORY.search(joined) or re.search(_ATTACHMENT.pattern.replace("$", r"\b"), joined)
    if not match:
        return None
    accessory = match.group(0)
    before = joined[: match.start()].split()
    after = joined[match.end():].split()
    # "a case for my iphone 15" / «قاب برای آیفون ۱۵»: the device after a for-word
    for index, word in enumerate(after[:3]):
        if word in _FOR_WORDS:
            device = _device_words(after[index + 1:])
            return AccessoryRequest(accessory, device) if device else None
    # «برای آیفون ۱۵ قاب دارین؟», "for my iphone 15, any cases?": the for-word before the device
    for index in range(len(before) - 1, -1, -1):
        if before[index] in _FOR_WORDS:
            device = _device_words(before[index + 1:])
            return AccessoryRequest(accessory, device) if device else None
    if not _ATTACHMENT.fullmatch(accessory.split()[-1]) and not _ATTACHMENT.fullmatch(accessory):
        return None
    # "iphone 15 case" (the device right before it) / «قاب آیفون ۱۵» (right after it); not "the
    # galaxy a55 and a case"
    is_persian = bool(re.search(f"[{_FA}]", accessory))
    beside = after if is_persian else list(reversed(before))
    if not beside or beside[0] in _NOT_DEVICE:
        return None
    device = _device_words(beside)
    if not is_persian:
        device = " ".join(reversed(device.split()))
    return AccessoryRequest(accessory, device) if device else None


def accessory_for_device(text_before: str) -> bool:
    """The words before a product name ask for an accessory of it ("do you have a charger for the",
    «قاب برای»): that product is the device, not what is wanted."""
    before = canonical(text_before)
    return bool(_FOR_THE_DEVICE.search(before)) and bool(_ACCESSORY.search(before) or _GOES_WITH.search(before))


_GOODBYE = re.compile(r"\b(?:bye|goodbye|good bye|bye bye|see you|see ya|cya|later|take care|khodafez|khodahafez|"
                      r"gtg|g2g|got ?ta go|got to go|gotta run|(?<!do i )(?:have|need) to (?:go|run)(?: now)?(?=[\s!.,]*$)|"
                      r"gotta bounce|"
                      r"khodanegahdar|bye|good ?night|have a (?:good|nice) (?:day|one|night|evening)|ttyl|"
                      r"talk (?:to you )?(?:later|soon)|catch you later|shab bekheir|shab bekheyr)\b|"
                      + _fa(r"خداحافظ|خدافظ|خدانگهدار|بای|فعلا خداحافظ|روز خوش|شب خوش|شب بخیر|شبتون بخیر|"
                            r"روز خوبی داشته باشید|روزتون خوش"))


# Words that drop what is being asked. Strong ones hold even inside a description ("I'll keep
# it" as the return reason); weak ones only where words are not the expected answer.
_STOP_STRONG = re.compile(
    r"\b(?:never ?mind|nvm|forget (?:it|that|about it)|i'?ll keep it|keep it then|don'?t bother|cancel that|"
    r"i'?ll do (?:it|that) later|i'?ll (?:just )?check (?:it )?(?:myself|later|on the website|the website|the app|"
    r"in the app|online|my email|the tracking email)|bikhial|bikhiyal|"
    r"(?:don'?t|do not|no need to) worry about it|i (?:don'?t|do not) want to (?:do (?:this|that|it)|continue|go on)"
    r"(?: anymore| any more)?|(?:don'?t|do not) want (?:it|to) any ?more|"
    r"i'?ll (?:just )?(?:call|phone|ring|visit|email|come (?:in|by|to)|go to|drop by) (?:the |your )?"
    r"(?:store|shop|support|customer service|you guys)|"
    r"velesh kon)\b|"
    + _fa(r"دیگه نمیخوام|نمیخوام دیگه|دیگه نمی خوام|نمی خوام دیگه|خودم پیگیری میکنم|خودم پیگیری می کنم|خودم زنگ میزنم|خودم زنگ می زنم|خودم تماس میگیرم|خودم تماس می گیرم|حضوری میام|خودم میام فروشگاه|"
          r"بیخیال|بی خیال|ولش کن|ولش|نگهش میدارم|نگهش می دارم|منصرف شدم|پشیمون شدم از|لازم نیست دیگه|دیگه لازم نیست"))
_STOP_WEAK = re.compile(r"\b(?:not now|maybe later|later|skip it|no need|baadan|ba'?adan|badan|i'?ll think about it|"
                        r"that'?s (?:it|all)|that'?s enough(?: for now| for today)?|that'?ll do(?: for now)?|"
                        r"(?:thanks|thank you|thx|ty|cheers) (?:anyway|anyways|all the same)|"
                        r"felan na|felan nemikham|lazem nist|(?:some ?)?other time|"
                        r"another (?:time|day)|not today|next time|some other day|let me think(?: about it| it over)?|"
                        r"i (?:need|have) to think(?: about it)?|i'?ll think it over|bezar fekr konam|"
                        r"(?:don'?t|do not) have (?:the )?time(?: for (?:this|that))?(?: (?:now|right now|today))?|"
                        r"i'?ll (?:order|buy|get|do|check) (?:it |one |that )?(?:tomorrow|later|tonight|next week)|"
                        r"i'?ll come back (?:later|tomorrow|with)|farda (?:sefaresh|kharid|mikharam))\b|"
                        + _fa(r"(?:فردا|پس فردا|بعدا|بعداً|یه وقت دیگه|یه روز دیگه|هفته بعد|هفته دیگه|آخر هفته|شب) "
                              r"(?:\S+ ){0,2}(?:میدم|می دم|میخرم|می خرم|میکنم|می کنم|میام|برمیگردم|پیام میدم|میگیرم)") + "|"
                        + _fa(r"(?:به هر حال|در هر حال|در هر صورت|بهرحال) (?:ممنون|مرسی|متشکرم|سپاس)|"
                              r"(?:ممنون|مرسی|متشکرم) (?:به هر حال|در هر حال|در هر صورت|بهرحال)|مهم نیست|لازم نیست|بعدا|بعداً|فعلا نه|الان نه|نمیخوام|نمی خوام|بهش فکر میکنم|فکرامو میکنم|فکرامو بکنم|"
                              r"بذار فکر کنم|بزار فکر کنم|باید فکر کنم|یکم فکر کنم|(?:فعلا |فعلاً |همینقدر |همین قدر |همین )+کافیه(?!\s*[؟?])|"
                              r"کافیه دیگه|فعلا بسه|همینا بسه"))


def wants_to_stop(text: str, strong_only: bool = False) -> bool:
    """Words that drop what is being asked ("never mind", "I'll keep it", «بیخیال»; unless
    `strong_only`, also "later", «بعدا», «نمیخوام»)."""
    clean = canonical(text)
    return bool(_STOP_STRONG.search(clean) or (not strong_only and _STOP_WEAK.search(clean)))


_HOLD = re.compile(r"^(?:(?:ok|okay|sure|hmm|um+)[ ,]*)?(?:wait|hold on|one (?:sec|second|moment|min)|just a (?:sec|second|moment|minute)|"
                   r"give me a (?:sec|second|moment|minute)|let me (?:check|see|find|look|get|grab)|brb|"
                   r"sabr kon|ye lahze|یه لحظه|یک لحظه|صبر کن|صبر کنید|وایسا|وایسید|الان میگم|الان پیدا میکنم|"
                   r"بذار ببینم|بزار ببینم|یه دقیقه)\b")


def asks_to_wait(text: str) -> bool:
    """"one sec, let me find it", «صبر کنید یه بار دیگه امتحان کنم»: the customer will answer in a
    moment (not "wait, does it have a warranty?", which is a question)."""
    return bool(_HOLD.match(canonical(text))) and not sounds_like_question(text)


_REFUSAL = re.compile(r"^(?:actually |oh |hmm |well )?(?:no thanks|no thank you|nah thanks|no,? i'?m good|no,? that'?s ok|"
                      r"no,? it'?s ok|نه ممنون|نه مرسی|نه ممنونم|نه دیگه|نه لازم نیست|na mersi|na merci|na mamnoon)\b")


# "no, that's all, thanks", «نه دیگه همین بود، مرسی»: nothing more to ask (a closing, not a declined offer).
_NOTHING_MORE = re.compile(
    r"\b(?:that'?s (?:it|all)|that was (?:it|all)|nothing else|nothing more|i'?m (?:all )?(?:good|set|done)|"
    r"no more questions|all set|that'?s everything|nothing (?:else )?for now|that'?ll be all)\b|"
    + _fa(r"فعلا همین|همین فعلا|فعلا همینه|فعلا همینا|همینا فعلا|دیگه هیچی|هیچی دیگه|"
          r"همین بود|همینا بود|همین بود فقط|نه دیگه|سوال دیگه ای ندارم|"
                                  r"سوال دیگه‌ای ندارم|کار دیگه ای ندارم|کار دیگه‌ای ندارم|چیز دیگه ای نه"))


def nothing_more(text: str) -> bool:
    """The customer has nothing more to ask ("that's all", «همین بود»)."""
    return bool(_NOTHING_MORE.search(canonical(text)))


_LANGUAGE_NAMED = re.compile(r"\b(?:english|inglish|engilisi|englisi|persian|farsi|finglish|pinglish|language|"
                             r"languages|zaban|zabun)\b|" + _fa(r"انگلیسی|فارسی|فینگلیش|زبان|زبون"))


def names_a_language(text: str) -> bool:
    """The message names a language or says "language" ("in English please", «فارسی بنویس»)."""
    return bool(_LANGUAGE_NAMED.search(canonical(text)))


def refuses(text: str) -> bool:
    """"no thanks", «نه ممنون»: the customer declines what is being asked."""
    return bool(_REFUSAL.match(canonical(text)))


_ADDRESS_OR_TIME = re.compile(
    r"\d|\b(?:street|st|ave|avenue|alley|road|rd|blvd|unit|floor|apt|no|saturday|sunday|monday|tuesday|wednesday|"
    r"thursday|friday|morning|afternoon|evening|tonight|tomorrow|between|before|after|am|pm|o'?clock|"
    r"khiaban|koocheh?|kuche|pelak|vahed|meydan|saat|sobh|zohr|asr|farda|(?:yek|do|se|chahar|panj) ?shanbe|shanbe|jome)\b|"
    + _fa(r"خیابان|خ|کوچه|پلاک|طبقه|واحد|بلوار|میدان|شهرک|محله|شنبه|یکشنبه|دوشنبه|سه شنبه|چهارشنبه|پنجشنبه|جمعه|"
          r"صبح|ظهر|عصر|شب|فردا|پس فردا|ساعت|بین|قبل از|بعد از"))


def looks_like_address_or_time(text: str) -> bool:
    """An address or a delivery time in the words (what a change request is)."""
    return bool(_ADDRESS_OR_TIME.search(canonical(text)))


# One word that could mean several requests: the customer is asked which, with buttons.
_VAGUE = {
    "order": ("place_order", "track_order", "change_order", "cancel_order"),
    "orders": ("track_order", "place_order", "cancel_order"),
    "my order": ("track_order", "change_order", "cancel_order", "return_item"),
    "سفارش": ("place_order", "track_order", "change_order", "cancel_order"),
    "سفارشات": ("track_order", "place_order", "cancel_order"),
    "سفارشم": ("track_order", "change_order", "cancel_order", "return_item"),
    "sefaresh": ("place_order", "track_order", "change_order", "cancel_order"),
    "payment": ("ask_payment_methods", "payment_problem"),
    "پرداخت": ("ask_payment_methods", "payment_problem"),
    "discount": ("ask_promotions", "apply_discount_code"),
    "تخفیف": ("ask_promotions", "apply_discount_code"),
    "return": ("return_item", "ask_warranty"),
    "مرجوعی": ("return_item", "ask_warranty"),
    "points": ("ask_loyalty_points", "ask_referral"),
    "امتیاز": ("ask_loyalty_points", "give_feedback"),
}


# What may come before the vague word: a greeting, "it's about", «در مورد».
_VAGUE_LEAD = re.compile(
    r"^(?:(?:hi|hey|hello|salam|سلام|ببخشید|excuse me|um+|hmm+)[ ,،!]*)*"
    r"(?:(?:it'?s|its|it is|this is|i have a question|i've got a question|a question|question|quick question)"
    r"(?: about| regarding| re)?|about|regarding|re|در مورد|درباره|درباره ی|راجع به|راجب|یه سوال درباره|"
    r"یه سوال در مورد|سوال درباره|سوال در مورد)?[ ,،:]*")


def vague_request(text: str) -> Tuple[str, ...]:
    """The requests a one-word message may mean ("order" → place, track, change, cancel; also "hey,
    it's about my order", «در مورد سفارشم»), else ()."""
    clean = re.sub(r"[?؟!.]+$", "", canonical(text)).strip()
    if clean in _VAGUE:
        return _VAGUE[clean]
    return _VAGUE.get(_VAGUE_LEAD.sub("", clean).strip(), ())


# Words that carry no detail of a problem: function words...
_FILLER = set("""
a an the my our your i i'm im ive i've me it it's its is are was were be been am have has had got get
there there's theres some something any with with to of on in at for and or but so just really very
please pls plz hi hello hey hmm um well ok okay also again still now today yesterday
سلام ببخشید یه یک من ما شما این اون آن با به از در برای که و یا ولی هم هنوز الان امروز دیروز لطفا لطفاً
خب خوب سلامت راستش دیگه را رو هست است بود
""".split())
# ...and words that only say *that* something is wrong, or with what.
_PROBLEM_WORDS = set("""
problem problems issue issues trouble wrong broken broke faulty defective not working work works
need want wanna would like report tell let know bought buy purchased ordered got received recently from you
phone order item product headphones headphone laptop device thing stuff purchase
مشکل مشکلی ایراد ایرادی خراب خرابه شده شد داره دارم داشتم داریم پیش اومده آمده کار نمیکنه نمی کنه
گوشی سفارش کالا محصول هدفون لپتاپ لپ تاپ دستگاه خرید وسیله جنس
moshkel kharab dare daram
میخوام میخواستم می خوام می خواستم گزارش بدم بگم کنم خریدم گرفتم خریده گرفته ازتون ازشما اطلاع
""".split())


def describes_something(text: str, minimum: int = 2) -> bool:
    """The message says what is wrong, not only that something is ("got an issue!",
    «هدفونم مشکل داره»): at least `minimum` words beyond function words and the words
    that only announce a problem. An answer to "what happened?" passes `minimum=1`
    counting any word but function words ("it won't turn on", «خاموش میشه»)."""
    words = [w.strip("!?.,،؛:;\"'()") for w in canonical(text).split()]
    words = [w for w in words if w and w not in _FILLER]
    if minimum <= 1:
        return len(words) >= 1

    def generic(word: str) -> bool:
        stem = word[:-1] if len(word) > 3 and word[-1] in "مشه" else word
        return word in _PROBLEM_WORDS or stem in _PROBLEM_WORDS or word.rstrip("s") in _PROBLEM_WORDS

    return len([w for w in words if not generic(w)]) >= minimum


_ACKNOWLEDGEMENT = re.compile(r"^(?:great|cool|perfect|awesome|nice|super|excellent|good|very good|ok great|"
                              r"عالی|عالیه|چه خوب|خوبه|خیلی خوب|باحاله|aali|aalie|ali|khoobe|khube)[ !.]*$")


def acknowledges(text: str) -> bool:
    """A one-word nod to an answer ("great", «عالیه»), not a rating of the shop."""
    return bool(_ACKNOWLEDGEMENT.match(canonical(text)))


def looks_like_a_code(text: str) -> bool:
    """A run of at least four digits (spaces or dashes between them allowed): what a typed
    one-time code is — «کد ۶ رقمی کجاست؟» is words about one."""
    joined = re.sub(r"(?<=\d)[\s-]+(?=\d)", "", to_ascii_digits(text))
    return bool(re.search(r"\d{4,}", joined))


def has_digits(text: str) -> bool:
    return bool(re.search(r"\d", canonical(text)))


_ENDS_WITH_GOODBYE = re.compile(r"(?:\b(?:bye|goodbye|bye bye|see you|see ya|cya|take care|khodafez|khodahafez|"
                                r"gtg|g2g|got ?ta go|got to go|gotta run|(?<!do i )(?:have|need) to go(?: now)?|"
                                r"good ?night|ttyl|talk (?:to you )?(?:later|soon)|catch you later)"
                                r"|" + _fa(r"خداحافظ|خدافظ|خدانگهدار|بای|شب بخیر|شبتون بخیر") + r")[\s!.,،؟?]*$")


# A bare "cancel" while the bot asks something: stop this (not "cancel my order").
_CANCEL_THIS = re.compile(
    r"^(?:(?:no|nah|ok|okay|just|oh|um+|hmm+)[ ,]*)*(?:cancel|cancel it|cancel this|cancel that|cancel please|"
    r"please cancel|cancel the whole thing|abort|kansel|cancel kon|laghv|"
    r"لغو|کنسل|لغوش کن|کنسلش کن|لغو کن|کنسل کن|لغوش|کنسلش)(?: please| لطفا)?[ .!]*$")


def cancels_this(text: str) -> bool:
    """The whole message is "cancel" (or «لغو»): inside a question, drop what is being asked."""
    return bool(_CANCEL_THIS.match(canonical(text)))


def ends_with_goodbye(text: str) -> bool:
    """The message ends with a goodbye ("…, I'll sort it out at checkout. bye"): the customer is leaving."""
    return bool(_ENDS_WITH_GOODBYE.search(canonical(text)))


# "the address is right after all", «نه درسته، مشکلی نیست»: nothing needs doing.
_NOTHING_TO_DO = re.compile(
    r"\b(?:(?:is|was|'s) (?:right|correct|fine|ok|okay) (?:after all|actually)?|all good|all fine|no changes?|"
    r"nothing to change|no need to change|it'?s fine|it'?s ok|(?:it'?s|it is|all) (?:working|fine|ok|good) now|"
    r"works (?:fine )?now|(?:i )?fixed it|sorted it(?: out)?|problem solved|solved it|figured it out)\b|"
    + _fa(r"درسته|درست بود|درسته که|مشکلی نیست|مشکلی نداره|نیازی نیست|لازم به تغییر نیست|همون خوبه|خوبه همون|"
          r"درست شد|حل شد|مشکل حل شد|الان کار میکنه|الان کار می کنه|خودش درست شد|دیگه مشکلی نیست"))


def nothing_to_do(text: str) -> bool:
    """The customer says nothing needs doing after all (the address is right, all good)."""
    return bool(_NOTHING_TO_DO.search(canonical(text)))


# "instead of a review I just want to return it", «به جای نظر میخوام پسش بدم»: another goal, explicitly.
_SWITCH = re.compile(
    r"^instead\b|\b(?:instead of|rather than|scratch that|forget (?:the|about the|about) \w+|change of plan|"
    r"actually,? i (?:just )?(?:want|need|wanna|would like)|i just want to|never mind (?:the|that) \w+|"
    r"i'?d (?:much )?rather(?: just)?|i'?d prefer to|on second thought|you know what,? (?:i|let'?s))\b|"
    + _fa(r"به جای|بجای|به جاش|بجاش|عوضش|اصلا میخوام|اصلا می خوام|فقط میخوام|فقط می خوام|ترجیح میدم|"
          r"ترجیح می دم|راستش میخوام|راستش می خوام|فقط میخواستم|فقط می خواستم|فقط خواستم"))


_THANKS = re.compile(r"\b(?:thanks|thank you|thank u|thx|ty|cheers|merci|mersi|mamnoon|mamnun|tnx)\b|"
                     + _fa(r"ممنون|ممنونم|مرسی|متشکرم|سپاس|سپاسگزارم|دمت گرم|دستت درد نکنه|لطف کردی|لطف کردید"))


def thanks(text: str) -> bool:
    """The message thanks ("yes that's the one, thanks", «آره همین، ممنون»), whatever else it says."""
    return bool(_THANKS.search(canonical(text)))


_ASKS_PRICE = re.compile(r"\b(?:price|prices|cost|costs|how much|gheymat|ghimat|chande|chand)\b|"
                         + _fa(r"قیمت|قیمتش|قیمتشون|چنده|چند میشه|چند تومنه|چند هست"))
_ASKS_WARRANTY = re.compile(r"\b(?:warranty|warrantee|guarantee|garanti|garantish)\b|" + _fa(r"گارانتی|گارانتیش|ضمانت"))


def asks_price(text: str) -> bool:
    """The message asks a price («قیمت و گارانتیش؟», "price and warranty?"), whatever else it asks."""
    return bool(_ASKS_PRICE.search(canonical(text)))


def asks_warranty(text: str) -> bool:
    """The message asks about the warranty, whatever else it asks."""
    return bool(_ASKS_WARRANTY.search(canonical(text)))


# "why do you need my number?", «شمارمو برای چی میخواین؟» — what the shop does with the customer's data.
_DATA_USE = re.compile(
    r"\bwhy (?:do|d'?|would|should) ?(?:you|u) (?:need|want|ask for) (?:my|the|a|all)\b|"
    r"\bwhat (?:do|d'?) (?:you|u) need my (?:phone|number|mobile|info|information|details|data)\b|"
    r"\bwhy (?:should|do|must) i (?:give|share|send|tell) (?:you )?my\b|"
    r"\bwhat (?:will|do|are) you (?:going to )?do with my (?:number|phone|data|information|info|details)\b|"
    r"\bis (?:my (?:data|information|number|info|phone)|it) safe (?:with you|to give)|"
    r"\bdo you (?:share|sell|store|keep|save) my\b|\bwill you (?:spam|sell|share)\b|"
    r"\b(?:what'?s|what is) the code for\b|\bwhy (?:are you asking|do you ask|the) (?:for )?(?:a |my |the )?(?:code|number|phone)\b|"
    r"\bprivacy(?: policy)?\b|\bchera shomare|\bshomar(?:e|a)mo (?:baraye|vase) chi|"
    + _fa(r"(?:شماره|شمارمو|شماره مو|شمارم|شماره موبایلمو|شماره موبایلم|اطلاعاتمو|اطلاعاتم|کد)(?: \S+){0,3} "
          r"(?:برای چی|واسه چی|به چه دردتون|برای چیه|واسه چیه|لازمه برای چی)") + "|"
    + _fa(r"چرا (?:باید )?(?:شماره|شمارمو|شماره مو|شماره موبایلمو|شماره موبایل|اطلاعات|اطلاعاتمو)(?: \S+){0,2} "
          r"(?:میخواید|میخوای|می خواید|میخواین|می خواین|بدم|لازمه|لازم دارید)") + "|"
    + _fa(r"اطلاعات(?:م|مو| شخصی| شخصیمو)?(?: \S+){0,3} (?:امنه|امن است|ذخیره میکنید|ذخیره می کنید|نگه میدارید)|"
          r"حریم خصوصی|به کسی نمی ?دین|به کسی نمی ?دید|تبلیغ (?:که )?نمی ?فرستین|تبلیغ (?:که )?نمی ?فرستید|"
          r"جایی پخش نمیشه"))


def asks_about_data_use(text: str) -> bool:
    """The customer asks why the shop wants their number or code, or what it does with their data."""
    return bool(_DATA_USE.search(canonical(text)))


def ends_with_instead(text: str) -> bool:
    """"can you show me your headphones instead?": what follows replaces what was going on."""
    return bool(re.search(r"\binstead\W*$", canonical(text)))


def switches_goal(text: str) -> bool:
    """Words that put another request in place of the current one."""
    return bool(_SWITCH.search(canonical(text)))


def says_goodbye(text: str) -> bool:
    """Words that take leave ("bye", «خداحافظ»), whatever else the message says."""
    return bool(_GOODBYE.search(canonical(text)))


_TAKE_IT = re.compile(
    r"\b(?:i'?ll take (?:it|this|that|one|them|the)|i will take (?:it|this|that|one|them)|i'?ll (?:buy|get|order) (?:it|this|that|one)|"
    r"i want (?:it|this one|that one)|let me (?:get|buy|order) (?:it|this|that)|(?:buy|order|get) (?:it|this|that) for me|"
    r"sold|add (?:it|this) to (?:my )?cart|i'?m taking it|mikharamesh|bekharamesh|"
    r"(?:ok(?:ay)?|alright|great|cool|perfect|yes|yeah|yep),? (?:send|ship|book) (?:it|this|one)|"
    r"(?:send|ship) (?:it|this|one) (?:to me|over|my way)|(?:please )?(?:send|ship) (?:it|this|one) please|"
    r"book (?:it|this|one) for me|let'?s do (?:it|this)|^(?:ok(?:ay)?,? )?(?:it'?s a |that'?s a )?deal|take my money|i'?ll have (?:it|this|that|one)|"
    r"go ahead and (?:order|buy|book|send) (?:it|this|that|one)|place the order|"
    r"(?:gimme|give me) (?:it|this|that|that one|this one|one)(?: then| please| pls| now)?[.! ]*$|"
    r"(?:i'?ll|ill|i will|let me|lemme) (?:grab|take|get|buy) (?:one|1|it|that|this|that one|this one)|"
    r"i (?:want|need|wanna get|wanna buy) (?:one|1|that|this)(?: then| please| pls)?$|"
    r"befrest(?:in|id)? (?:baram|barame)|sabtesh kon(?:in|id)?|mikhamesh|mikhamash|"
    r"(?:(?:\d|ye|yek|do|se)\s*ta az )?(?:hamino|hamin ro|hamino|hamoono|hamoon ro|hamoon|hamin|ino|in ro|oono) "
    r"(?:mikham|bede|mikharam|sefaresh bede)|(?:\d|ye|yek|do|se)\s*ta azash (?:mikham|bede))\b|"
    + _fa(r"میخرمش|می خرمش|میخرمشون|برش میدارم|برمیدارمش|همینو میخوام|همینو بده|همینو برام بفرست|همینو سفارش بده|"
          r"سفارشش بده|بخرمش|همونو میخوام|اینو میخوام|اونو میخوام|میگیرمش|می گیرمش|میخوامش|می خوامش|میخامش|"
          r"میخوامشون|همینو بدید|همینو بدین|"
          r"(?:همون|همان|اون|همین) [^\s؟?]+ (?:رو|را|و) (?:میخوام|می خوام|میخرم|می خرم|برمیدارم)|"
          r"(?:اوکی|اوکیه|باشه|خوبه|عالیه|آره|اره|بله)،? (?:ثبت کنید|ثبتش کنید|ثبتش کن|ثبت کن|بفرستید|بفرستین|بفرست)|"
          r"بفرستید برام|بفرستین برام|برام بفرستید|برام بفرستین|برام بفرستش|بفرستش برام|ثبتش کنید|ثبتش کنین|"
          r"سفارشش بدید|سفارشش بدین|معامله قبول|قبوله|بزن بریم|"
          r"(?:اوکیه|اوکی|باشه|خوبه|پس)،? (?:بخرم|بخرمش|میخرم|میخرمش)|حله،? (?:بفرست|بفرستش|بفرستید|بفرستین|ثبت کن)|"
          r"(?:خوبه|اوکی|باشه|پس)?،? ?(?:یکی|یه دونه|یک دونه|یه دونش|[۰-۹\d]\s*تا|دو تا|سه تا|چهار تا|پنج تا) "
          r"(?:میخوام|می خوام|میخرم|بده|بدید|بدین)$|"
          r"(?:[۰-۹\d]|یه|یک|دو|سه)\s*تا (?:از )?(?:همین|همون|این|اون)(?:و|ها|ا)? (?:میخوام|می خوام|بده|میخرم)|"
          r"(?:[۰-۹\d]|یه|یک|دو|سه)\s*تا ازش (?:میخوام|می خوام|بده)")
)


# "the previous one", «همون قبلی»: the product talked about before the latest one.
_PREVIOUS = re.compile(r"\b(?:the previous one|the one before(?: that)?|the earlier one|the last one you (?:showed|mentioned)|"
                       r"the one you (?:showed|mentioned) (?:first|before)|hamoon ghabli|ghablie?)\b|"
                       + _fa(r"همون قبلی|همان قبلی|اون قبلی|قبلیه|قبلیو|قبلی رو|قبلیش|قبلی"))


# "do you have a discount code?": asks for one the shop offers, not to apply one the customer has.
_ASKS_FOR_A_CODE = re.compile(
    r"\b(?:do|d'?you|you guys|do u) (?:you )?(?:guys )?(?:have|got|give|offer) (?:a|any|some) (?:discount |promo |coupon |voucher |off )?"
    r"(?:codes?|coupons?|vouchers?)\b|\b(?:is there|are there|any) (?:a |any )?(?:discount|promo|coupon) codes?\b(?! (?:box|field))|"
    r"\bwhere (?:do|can) i (?:get|find) (?:a|the) (?:discount |promo )?code\b|"
    r"\b(?:can|could) i (?:get|have) (?:a|an|any|some) (?:discount |promo )?(?:codes?|coupons?)\b|"
    + _fa(r"کد تخفیف (?:دارید|دارین|داری|هست|ندارید|ندارین|میدید|می دید|میدین)|کد تخفیفی (?:دارید|دارین|هست)|"
          r"کد تخفیف (?:بهم )?(?:میدین|میدید|بدید|بدین)|"
          r"کد تخفیف از کجا|کد تخفیف چطوری بگیرم"))


def asks_for_a_code(text: str) -> bool:
    """The customer asks whether the shop has a discount code ("do you have a discount code?",
    «کد تخفیف دارید؟»), not to use one they have ("I have a discount code")."""
    return bool(_ASKS_FOR_A_CODE.search(canonical(text)))


def means_previous(text: str) -> bool:
    """The message points at the product talked about before the latest one ("no, the previous one")."""
    return bool(_PREVIOUS.search(canonical(text)))


def wants_it(text: str) -> bool:
    """"I'll take it", «میخرمش»: the customer wants the product just talked about."""
    return bool(_TAKE_IT.search(canonical(text)))


_BUY = re.compile(r"\b(?:order|buy|purchase|take|get me|i'?ll get|i want|(?:i'?ll |let'?s )?go (?:with|for)|"
                  r"i'?ll pick|i pick|i choose|sefaresh|mikharam|bekharam|mikham)\b|"
                  + _fa(r"سفارش بده|سفارش میدم|سفارش می دم|سفارشش|ثبت کن|میخرم|می خرم|بخرم|میخوام|می خوام|میگیرم|"
                        r"می گیرم|بگیرم|برام بفرست|برداشتم|برمیدارم"))


def buys_choice(text: str) -> bool:
    """"order the cheaper one", «دومی رو میخرم»: one of the products just shown, to buy."""
    clean = canonical(text)
    return choice_among(text) is not None and bool(_BUY.search(clean))


# "didn't get the code", «کد نیومد» — a one-time code that did not arrive.
_NO_CODE = re.compile(
    r"\b(?:didn'?t|did not|haven'?t|have not|never|no)\b.{0,20}\b(?:get|got|receive|received|come|arrive|arrived|code|sms)\b|"
    r"\bcode (?:didn'?t|did not|hasn'?t|has not|never) (?:come|arrive)|\bno (?:code|sms)\b|\bresend\b|"
    r"\bwhere(?:'s| is) (?:the|my|that) code\b|\bsend (?:it |the code |a code |another code )?again\b|"
    + _fa(r"نیومد|نیامد|نرسید|نیومده|نیامده|نرسیده|دریافت نکردم|نگرفتم|ارسال نشد|دوباره بفرست|دوباره ارسال|"
          r"(?:یه|یک) بار دیگه بفرست|بازم بفرست|دوباره بفرستید|دوباره بفرستین|"
          r"مجدد بفرست|ارسال مجدد|کدی نیومد|پیامکی نیومد|پیامک نیومد|کد کجاست|کدش کجاست|کد کو|کدش کو|کد[^.؟?]{0,20}کجاست")
)


def code_did_not_arrive(text: str) -> bool:
    """The customer says the one-time code did not arrive (or asks for it again)."""
    return bool(_NO_CODE.search(canonical(text)))


# "what code?", «کدوم کد؟ من که کدی ندارم» — asked for the one-time code, the customer does not know which.
_WHICH_CODE = re.compile(r"\b(?:what|which|wat|wut) code\b|\bi (?:don'?t|do not) have (?:a|any|the) code\b|"
                         r"\bwhat(?:'s| is) (?:this|that|the) code\b|\bcode for what\b|\bkodoom code\b|"
                         + _fa(r"کد چی|کدوم کد|کدام کد|کد چیه|این کد چیه|کدی ندارم|کد ندارم|کد برای چی|کد چه"))


def asks_which_code(text: str) -> bool:
    """Asked for the one-time code, the customer asks which code is meant (not a referral or discount
    code, not a question about the shop)."""
    return bool(_WHICH_CODE.search(canonical(text)))


_QUESTION = re.compile(r"[?؟]|^(?:what|how|when|where|which|who|why|is|are|do|does|can|could|will|would)\b|"
                       r"\b(?:what'?s|what is|what are|how much|how long|how many|do you have|does it|is it|can i|"
                       r"will i)\b|"
                       + _fa(r"چی|چه|چطور|چگونه|کی|کجا|کدام|کدوم|چرا|آیا|ایا|چند|چقدر|میشه|می شه|دارید|دارین"))


def sounds_like_question(text: str) -> bool:
    return bool(_QUESTION.search(canonical(text)))


_YES = re.compile(r"^(?:yes|yeah|yep|yup|sure|ok|okay|of course|go ahead|confirm|confirmed|do it|please do|right|"
                  r"correct|bale|baleh|are|areh|are bezan|ok bezan|"
                  r"بله|بلی|آره|اره|آری|باشه|حتما|حتمن|تایید|تایید میکنم|درسته|درست است|بفرمایید|انجام بده|"
                  r"ثبت کن|ثبتش کن|لغو کن|لغوش کن|تغییر بده|اوکی|اوکیه|قبول|موافقم)\b")
_NO = re.compile(r"^(?:no|nope|nah|not now|don'?t|do not|cancel that|keep it|na|nakhir|"
                 r"نه|نخیر|نه ممنون|نمیخوام|نمی خوام|لازم نیست|نکن|ثبت نکن|لغو نکن|تغییر نده|نگهش دار|بیخیال)\b")


_CORRECTION_LEAD = re.compile(
    r"^(?:(?:no|nope|sorry|wait|oops|actually|my bad|my mistake|wrong(?: number| address| one)?|i meant|i mean|"
    r"it'?s|it is|the (?:new |right |correct )?(?:address|time) is|make it|change it to|instead|rather|"
    r"نه|ببخشید|صبر کن|وایسا|اشتباه شد|اشتباه گفتم|اشتباه نوشتم|منظورم|آدرس درستش|آدرس درست|درستش|آدرسش|اینه|این است)"
    r"[\s,،.:!؛-]*)+", re.IGNORECASE)


def corrected_value(text: str, minimum_words: int = 3) -> Optional[str]:
    """The new value of a correction given in words ("no wait, it's 212 Valiasr St" → "212 Valiasr St"),
    or None when the message is only a yes or a no."""
    rest = _CORRECTION_LEAD.sub("", normalise(text or "").strip()).strip()
    return rest if len(rest.split()) >= minimum_words else None


def yes_or_no(text: str) -> Optional[bool]:
    """True for a yes («بله», "sure"), False for a no («نه», "keep it", "hmm wait, no, don't place
    it"), None when it is neither or both."""
    clean = canonical(text)
    if _NO.match(clean):
        return False
    if _YES.match(clean):
        return True
    no, yes = bool(_NO_INSIDE.search(clean)), bool(_YES_INSIDE.search(clean))
    if no != yes:
        return yes
    return None


_NO_INSIDE = re.compile(r"\b(?:no|nope|don'?t|do not|cancel that|keep it|not now|changed my mind)\b|"
                        + _fa(r"نه|نخیر|نکن|نمیخوام|نمی خوام|منصرف|پشیمون|پشیمان|ثبت نکن|لغو نکن|تغییر نده"))
_YES_INSIDE = re.compile(r"\b(?:yes|yeah|yep|sure|go ahead|please do|confirm)\b|"
                         + _fa(r"بله|آره|اره|حتما|ثبت کن|لغوش کن|تغییر بده|تایید"))


_SCORE_IN_TEXT = re.compile(r"(?<![\d.,])(10|[0-9])(?![\d.,])")


def score_in(text: str) -> Optional[int]:
    """The one score from 0 to 10 a short message gives ("no wait, make it 5", «نه ببخشید ۴»);
    None when it gives none or several numbers."""
    found = _SCORE_IN_TEXT.findall(canonical(text))
    return int(found[0]) if len(found) == 1 and word_count(text) <= 8 else None


# Words of shipping or of paying: "and in Tehran?" names neither, "and shipping to Tehran?" does.
_SHIPPING_OR_PAYING = re.compile(
    r"\b(?:ship\w*|deliver\w*|send|sent|post|courier|how long|arriv\w*|pay\w*|cash|card|installments?)\b|"
    + _fa(r"ارسال|بفرستین|میفرستین|می فرستین|پست|پیک|تحویل|میرسه|می رسه|چند روزه|پرداخت|قسط|قسطی|کارت|نقدی"))


def names_shipping_or_paying(text: str) -> bool:
    """The message itself says it is about delivery or payment (not only a city or a day)."""
    return bool(_SHIPPING_OR_PAYING.search(canonical(text)))


# "the cheaper one", «ارزون‌تره رو»: one of the products just shown, picked by price (not "anything cheaper?").
_ONE_OF_THEM_BY_PRICE = re.compile(
    r"\b(?:the )?(?:cheaper|cheapest|less expensive|more expensive|pricier|priciest|most expensive) one\b|"
    + _fa(r"(?:ارزون|ارزان|گرون|گران) ?(?:تره|ترینه|ترین|تر)(?: رو| را|و)?|اون (?:ارزونه|گرونه)(?: رو|و)?"))


def means_one_of_them(text: str) -> bool:
    return bool(_ONE_OF_THEM_BY_PRICE.search(canonical(text))) and not asks_for_cheaper_others(text)


# "will I get my money back?", «پولم کی برمیگرده؟»: a question about the refund, not a return request.
_REFUND_QUESTION = re.compile(
    r"\b(?:money back|get (?:my )?money|refund(?:ed|s)?|reimburs\w*|opened (?:the )?box|open(?:ed)? it|"
    r"without (?:the )?box|return shipping|who pays)\b|"
    + _fa(r"پولم|پولمو|پول من|پولش|وجه|بازگشت پول|پول برمیگرده|پول بر میگرده|برگشت پول|بازش کردم|جعبه|کارتن|پلمپ|"
          r"هزینه ارسال مرجوعی|هزینه مرجوعی|هزینه برگشت"))


def asks_about_refund(text: str) -> bool:
    """A question about getting the money back ("will I get my money back? how long")."""
    return bool(_REFUND_QUESTION.search(canonical(text))) and sounds_like_question(text)


# "sorry, wrong number", «ببخشید شماره رو اشتباه زدم»: the phone number given was not the one meant.
_WRONG_NUMBER = re.compile(
    r"\bwrong (?:phone |mobile )?(?:number|no\.?)\b|\b(?:not|isn'?t) my (?:phone |mobile )?number\b|"
    r"\bmistyped (?:the |my )?(?:phone |mobile )?number\b|"
    + _fa(r"شماره(?:مو|م| رو| را|و)? (?:اشتباه|غلط) (?:زدم|دادم|نوشتم|وارد کردم)|شماره(?:م)? (?:اشتباهه|اشتباه بود|غلطه|غلط بود)|"
          r"این شماره من نیست|شمارم اشتباهه"))


def says_wrong_number(text: str) -> bool:
    return bool(_WRONG_NUMBER.search(canonical(text)))


# "does it have…", «… هم داره؟»: a question about what a product has or comes with.
_FEATURE_QUESTION = re.compile(r"\b(?:(?:does|do) (?:it|this|that|they|the|this one|that one)(?: \w+)? (?:have|come with|support)|"
                               r"has it got|comes? with|supports?)\b|"
                               + _fa(r"داره|دارد|داشته باشه|پشتیبانی میکنه|پشتیبانی می کنه"))


def asks_about_a_feature(text: str) -> bool:
    return bool(_FEATURE_QUESTION.search(canonical(text)))


# "when will it be back?", "let me know when it's back", «کی موجود میشه؟ خبرم کنید»
_WHEN_BACK = re.compile(r"\b(?:when (?:will|is|does) (?:it|this|that|they)(?: be| come)? back|back in stock|restock\w*|"
                        r"notify me|let me know when|tell me when|ping me when|in stock again|available again)\b|"
                        + _fa(r"کی موجود میشه|کی موجود می شه|کی میاد|کی موجود|موجود شد خبر|خبرم کنید|خبرم کن|"
                              r"اطلاع بدید|اطلاع بدین|موجود شد بگید|موجود شد بگین"))


def asks_when_back(text: str) -> bool:
    return bool(_WHEN_BACK.search(canonical(text)))


# An order described instead of numbered: "the one I haven't paid for", «اون آخری که تحویل گرفتم».
_ORDER_BY_STATUS = (
    ("pending_payment", re.compile(r"\b(?:unpaid|not paid|haven'?t paid|didn'?t pay|awaiting payment)\b|"
                                   + _fa(r"پرداخت نشده|پرداخت نکردم|پرداختش نکردم|پول(?:ش)?و? ندادم|در انتظار پرداخت"))),
    ("delivered", re.compile(r"\b(?:delivered|received|got it|i got|arrived)\b|"
                             + _fa(r"تحویل گرفتم|تحویل شده|تحویل‌شده|رسیده|بهم رسید|دستم رسید|گرفتمش"))),
    ("shipped", re.compile(r"\b(?:shipped|on (?:the|its) way|in transit)\b|" + _fa(r"ارسال شده|ارسال‌شده|تو راهه|در راهه"))),
    ("processing", re.compile(r"\b(?:processing|being prepared)\b|" + _fa(r"در حال آماده|داره آماده میشه"))),
)
_LATEST_ORDER = re.compile(r"\b(?:last|latest|newest|most recent|recent)\b|" + _fa(r"آخری|آخرین|جدیدترین|تازه‌ترین|تازه ترین"))


def order_described(text: str) -> Tuple[Optional[str], bool]:
    """(order status named or None, whether the latest is meant) of a message that describes an
    order instead of giving its number; (None, False) when it does neither."""
    clean = canonical(text)
    status = next((name for name, pattern in _ORDER_BY_STATUS if pattern.search(clean)), None)
    return status, bool(_LATEST_ORDER.search(clean))


# "how much altogether with shipping?", «جمعا چقدر میشه؟»: the price and the shipping added up.
_TOTAL = re.compile(r"\b(?:total|altogether|all together|in all|all in|with shipping|including shipping)\b|"
                    + _fa(r"جمعا|جمعاً|جمعش|روی هم|رویهم|کلا چقدر|کلش|با هزینه ارسال|با ارسال"))


def asks_total(text: str) -> bool:
    return bool(_TOTAL.search(canonical(text)))


# "the a55 one", "(what about) for the a55", «مال A55», «برای A55»: something of or for a device, not the device.
_FOR_THE_DEVICE = re.compile(r"\bthe [\w-]+(?: [\w-]+)? one\b|\bfor (?:the|my|a) [\w-]+|^(?:and |what about |ok )*for [\w-]+|"
                             + _fa(r"مال|برای|واسه|واسه ی|برای ی"))


def means_the_one_for(text: str) -> bool:
    return bool(_FOR_THE_DEVICE.search(canonical(text)))


# The shop's carriers named: "the courier", «پیک», "tipax".
_CARRIER = re.compile(r"\b(?:courier|tipax|chapar|post|postal|express)\b|" + _fa(r"پیک|تیپاکس|چاپار|پست|پیشتاز"))


def names_a_carrier(text: str) -> bool:
    return bool(_CARRIER.search(canonical(text)))


# "are you open on friday?", «فردا بازین؟», «جمعه‌ها تعطیلین؟»: whether the shop is open on a day.
_OPEN_ON_A_DAY = re.compile(
    r"\b(?:open|close|closed|closing|opening)\b.*\b(?:today|tomorrow|tonight|now|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|weekend)s?\b|\b(?:today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday)s?\b.*\b(?:open|closed?)\b|"
    + _fa(r"(?:امروز|فردا|امشب|شنبه|یکشنبه|دوشنبه|سه شنبه|چهارشنبه|پنجشنبه|پنج شنبه|جمعه)(?: ها)? (?:تا کی )?"
          r"(?:بازین|بازید|باز هستین|باز هستید|بازه|تعطیلین|تعطیلید|تعطیله|باز هست)"))


def asks_if_open(text: str) -> bool:
    return bool(_OPEN_ON_A_DAY.search(canonical(text)))


# "i'd give you guys a 2, delivery was slow", "4 out of 5", «بهتون ۳ میدم»: a score given in a longer message.
_SCORE_GIVEN = re.compile(r"\b(?:give|rate)(?: you| u| ya)?(?: guys| all)?(?: a| an)? (\d{1,2})\b|\b(\d{1,2}) ?(?:out of|/) ?(?:5|10)\b|"
                          + _fa(r"(?:بهتون |بهت )?(\d{1,2}) (?:میدم|می دم)|نمره(?:م)? (\d{1,2})"))


def score_given(text: str) -> Optional[int]:
    found = _SCORE_GIVEN.search(canonical(text))
    if not found:
        return None
    value = int(next(g for g in found.groups() if g))
    return value if 0 <= value <= 10 else None


# "how are you?", «خوبی؟», «چطوری؟»: small talk after a hello.
_HOW_ARE_YOU = re.compile(r"\b(?:how are (?:you|u|ya)|how r u|hru|how'?s it going|how are things|khubi|khoobi|chetori)\b|"
                          + _fa(r"خوبی|خوبین|خوبید|چطوری|چطورین|چطورید|خوب هستین|حالتون خوبه|حالت خوبه"))


def asks_how_i_am(text: str) -> bool:
    return bool(_HOW_ARE_YOU.search(canonical(text)))


# "do you ship abroad?", «خارج از کشور چی؟ مثلا دبی»: delivery outside Iran.
_ABROAD = re.compile(r"\b(?:abroad|overseas|international(?:ly)?|outside (?:of )?iran|other countries|another country|"
                     r"dubai|uae|turkey|istanbul|germany|canada|europe|usa)\b|"
                     + _fa(r"خارج از کشور|خارج از ایران|خارج|بین ?المللی|دبی|امارات|ترکیه|استانبول|آلمان|کانادا|اروپا|آمریکا"))


def asks_abroad(text: str) -> bool:
    return bool(_ABROAD.search(canonical(text)))
