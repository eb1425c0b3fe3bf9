"""Typos in Latin words corrected before the NLU (bot/nlu/spelling.py)."""

from __future__ import annotations

import pytest

from bot.nlu.spelling import Vocabulary, one_edit_apart

VOCABULARY = Vocabulary.of_texts(["how much is the price", "what is the warranty", "do you sell cases",
                                   "can I use it", "the case"],
                                  targets=["iphone 15", "samsung galaxy s24", "gmail", "baseus cable", "redmi note 13"])


@pytest.mark.parametrize("typed, meant", [("how much is the ipone 15", "how much is the iphone 15"),
                                          ("samsnug galxy", "samsung galaxy"),
                                          ("is there a warrenty on the iphon 15", "is there a warrenty on the iphone 15")])
def test_a_word_one_edit_from_a_known_word_is_that_word(typed: str, meant: str) -> None:
    assert VOCABULARY.corrected(typed) == meant


@pytest.mark.parametrize("text", ["ali@gmial.com", "www.gmial.com", "NOWRUZ", "yalda10", "teh", "قیمت ایفون",
                                  "sorry what was that", "are you able to help", "take a note", "a table"])
def test_emails_addresses_codes_short_and_persian_words_are_left_as_typed(text: str) -> None:
    assert VOCABULARY.corrected(text) == text


def test_no_guess_between_two_equally_likely_words() -> None:
    vocabulary = Vocabulary({"case": 5, "cast": 5})
    assert vocabulary.correction("casx") is None


@pytest.mark.parametrize("a, b, apart", [("ipone", "iphone", True), ("samsnug", "samsung", True),
                                         ("mcuh", "much", True), ("phone", "phones", True),
                                         ("case", "cast", True), ("case", "cats", False), ("abc", "abc", False)])
def test_one_edit_apart(a: str, b: str, apart: bool) -> None:
    assert one_edit_apart(a, b) == apart


COMMON_WORDS = Vocabulary({"much": 40, "what": 60, "delivery": 12, "from": 30, "form": 9, "rare": 2, "the": 90,
                           "gheymat": 8}, targets=["iphone"])


@pytest.mark.parametrize("typed, meant", [("how mcuh", "how much"), ("waht is it", "what is it"),
                                          ("delviery time", "delivery time"), ("Mcuh", "much"),
                                          ("muhc", "much")])
def test_two_swapped_letters_of_a_common_word_are_put_back(typed: str, meant: str) -> None:
    assert COMMON_WORDS.corrected(typed) == meant


@pytest.mark.parametrize("text", ["teh",        # under four letters
                                  "form",       # known: never corrected, though a swap makes "from"
                                  "arre",       # a swap makes "rare", used too rarely to guess
                                  "hmuc",       # the first letter is kept
                                  "gheimat"])   # Finglish spelled another way: not a swap of a known word
def test_swaps_stay_narrow(text: str) -> None:
    assert COMMON_WORDS.corrected(text) == text


@pytest.mark.parametrize("typed, meant", [("the iphone15 price", "the iphone 15 price"), ("redmi note13?", "redmi note 13?"),
                                          ("ipone15", "iphone 15"),
                                          ("samsung s24", "samsung s24"),   # a model code stays whole
                                          ("yalda10", "yalda10"),           # a code: its letters are no product word
                                          ("ali.note13@gmail.com", "ali.note13@gmail.com")])
def test_a_product_word_glued_to_its_number_is_split(typed: str, meant: str) -> None:
    assert VOCABULARY.corrected(typed) == meant


@pytest.mark.parametrize("typed, meant", [("گلکسیA55 موجوده؟", "گلکسی A55 موجوده؟"), ("قیمت آیفون15 چقدره", "قیمت آیفون 15 چقدره"),
                                          ("قیمت پلی استیشن5", "قیمت پلی استیشن 5"), ("سفارش100188 کجاست", "سفارش 100188 کجاست"),
                                          ("A55ام", "A55 ام"),
                                          ("قیمت آیفون 15", "قیمت آیفون 15")])   # already apart: unchanged
def test_persian_letters_glued_to_latin_or_digits_are_split(typed: str, meant: str) -> None:
    assert VOCABULARY.corrected(typed) == meant
