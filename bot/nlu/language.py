"""Which language a customer message is in: `fa` or `en`.

1. Any Arabic-script letter -> `fa`.
2. Latin text is Persian written in Latin letters ("Finglish", e.g. "salam
   mikhastam sefareshamo peygiri konam") or English. Each word scores:
   - +1 Finglish if it is in FINGLISH_WORDS, a listed lexicon of frequent
     Finglish words of shopping talk (greetings, verbs in the colloquial forms
     mikham/mikhastam/daram/konam, question words, shop vocabulary);
   - +1 English if it is in ENGLISH_WORDS (frequent English function words and
     shop vocabulary);
   - otherwise +0.5 Finglish if it has a Finglish letter pattern (kh, gh, zh,
     "aa"/"ee"/"oo" vowels spelt out, colloquial endings -am/-amo/-eh/-ash/-ro/-esh
     on words that are not English, the "mi-"/"ne-" verb prefixes).
   More Finglish than English -> `fa`, else `en`.
3. No letters at all (a bare number, an emoji): the shop's first language `fa`;
   the dialogue should keep the conversation's reply language for such turns.
"""

from __future__ import annotations

import re
from typing import Tuple

from bot.text.persian import has_persian_letters, to_ascii_digits

DEFAULT_LANGUAGE = "fa"

FINGLISH_WORDS = set("""
salam salaam slm dorood khodafez khodahafez bedrood merc mersi merci mamnoon mamnun mamnoonam mamnunam motshakeram
sepas lotfan lotfn befarmaeed befarmayid chetori chetorin khoobi khubi khoobin khubin khoobam khubam
are areh aare bale baleh na nah nakheir kheir ok mishe mishod nemishe mitoonam mitunam mitoonid mitunid
mikham mikhastam mikhaam mikhay mikhain mikhaid khastam kharid bekharam bekharim kharidam kharidan
sefaresh sefareshe sefaresham sefareshamo sefareshemo sefareshim sabt sabte peygiri paygiri peigiri
ersal ersale tahvil tahvile kojast kojaie kojas koja kei key kay chera chi chie chiye chand chande chanda cheghadr cheghad
gheymat gheimat gheymate gheimate ghimat ghimate takhfif takhfife kod code takhfifi pardakht pardakhte kart naghd ghesti
agsat aghsat garanti garantie zemanat marjoo marju marjoee marjooi pas bargasht bargardoonam bargardunam
laghv laghve cancel konid konam kon kardam kardim kardin kardid shod shode nashod nashode nemikonam mikonam mikonid
dashtam daram darid dari dare darin nadarid nadare hast hastam hastid hasti nist nistam bood bud boodam
man mano to shoma ma ina oon un in una ino ono in chizi hamin hamoon hamun alan emrooz farda diruz dirooz
kheili khili khaili kheyli kam ziad ziyad khoob khub bad kharab kharabe sookhte shekaste eshtebah eshtebahi
lotf ye yek do se chahar panj shish haft hasht noh dah ta adad dune doone
gooshi gushi laptop lap tap haddafon hedfon hendsfri hendzfri sa'at saat televizion yakhchal
mahsool mahsul kala kalaha jens ajnas mojood mojoode mojud mojude mojoodi mojudi namojood
bebakhshid bebakhshin bebakhshid sorry mamnoonam dastet dastetoon dard nakone khaste nabashid
ostad aghaye agha khanom jenab ba bi baraye barayeh vase vaseye az be dar ro ra ke ham hamash
chetor chejoori chejuri begid begin bego begoo bedid bedin bede bedeh befrestid befrest
khodet khodetoon bot robot adam ensan operator poshtibani poshtiban ertebat tamas telefon shomare shomarash
emtiaz emtiaz amtiaz bashgah moshtari moarefi davat doost doostam dustam rafigh
nazar nazaram rezayat razi narazi aali ali awli awlie aalie khafan kheyli
hala bashe bashe.. basheh bikhial bikhiyal velesh vel nemikham nakhastam
felan hatman hatmanan adami adam ensani am et esh emun etun eshun shomaram shomarat edame edamash nade nadid
benevis benevisid englisi engilisi farsi harf bezan bezanid begir begirid baram barat barash havaye hava
chetore chetorie ya kodoom kodum behtare behtar dargah mide midan midid midi mikone nemikone kar khoda
ghabz ghabzam rasid residam nareside nareside resid miresooneh mirese kojaye chikar chejoori tamoom tamum
""".split())

ENGLISH_WORDS = set("""
i me my mine you your yours we our us he she it its they them their the a an and or but if then so to of in on
at for from with without by about into over under is was were be been being am do does did done have has
had having can could will would shall should may might must not no yes yeah yep nope please thanks thank hi
hello hey bye goodbye good morning evening night what where when why how which who whom whose this that these
those there here want wanted need needed like would order orders ordered buy bought purchase price prices cost
costs much many how long delivery deliver shipping ship shipped track tracking status cancel cancelled change
return refund money payment pay paid card cash installments discount code coupon promo sale sales offer offers
warranty guarantee product products phone laptop headphones speaker watch camera console tv item items
broken damaged wrong help agent human person bot robot real talk speak english persian farsi language
company shop store contact address hours open close closed review rate rating feedback points loyalty
referral invite friend friends use set up setup work working works doesnt don't dont can't cant won't isnt
is it any some more less best better compare vs versus between available stock new still yet just only
ok okay sure great nice thanks alright fine never mind stop wait call email number greetings cheers nah
sorry mistake meant mean actually instead again repeat apply send get give show tell know check find see look
make take let go come keep buy sell ship arrive arrived late early today tomorrow yesterday week day days
""".split())

_FINGLISH_PATTERN = re.compile(
    r"(kh|gh|zh|aa|ee|oo)|^(mi|nemi|na|be)[a-z]{3,}(am|i|e|im|id|in|and|an)$|[a-z]{3,}(amo|emo|ro|esh|ash|eh)$"
)
_WORD = re.compile(r"[a-z']+")


def finglish_scores(text: str) -> Tuple[float, float]:
    """(finglish score, english score) of a Latin-script text."""
    fin = eng = 0.0
    for word in _WORD.findall(text.lower()):
        word = word.strip("'")
        if not word:
            continue
        in_fin, in_eng = word in FINGLISH_WORDS, word in ENGLISH_WORDS
        if in_fin and not in_eng:
            fin += 1
        elif in_eng and not in_fin:
            eng += 1
        elif in_fin and in_eng:
            fin += 0.5
            eng += 0.5
        elif _FINGLISH_PATTERN.search(word):
            fin += 0.5
    return fin, eng


# Finglish courtesies bilingual customers drop into an English chat ("merci", "mamnoon", "salam"):
# alone, they do not switch the conversation to Persian.
COURTESY_WORDS = frozenset("""
merc mersi merci mamnoon mamnun mamnoonam mamnunam motshakeram sepas salam salaam slm dorood bedrood
khodafez khodahafez kheili khili kheyli ziad aziz azizam jan ghorbanet merciii mrc
""".split())


def is_decisive(text: str) -> bool:
    """Whether the message's own words settle its language: Persian script, or Latin words
    that lean clearly one way ("sorry?", "ok" or a lone "merci" do not: the conversation's language stays)."""
    if has_persian_letters(to_ascii_digits(text or "")):
        return True
    words = [w.strip("'") for w in _WORD.findall((text or "").lower()) if w.strip("'")]
    if words and all(word in COURTESY_WORDS for word in words):
        return False
    fin, eng = finglish_scores(text)
    return abs(fin - eng) >= 1


def detect_language(text: str) -> str:
    """`fa` or `en` for one (normalised or raw) message."""
    if has_persian_letters(to_ascii_digits(text or "")):
        return "fa"
    if not re.search(r"[A-Za-z]", text or ""):
        return DEFAULT_LANGUAGE
    fin, eng = finglish_scores(text)
    return "fa" if fin > eng else "en"
