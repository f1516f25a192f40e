import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from indexer.analysis.text import (
    canonical,
    fold,
    has_diacritics,
    is_mostly_upper,
    new_tone_style,
    nfc,
    old_tone_style,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hòa", "hoà"),
        ("thủy", "thuỷ"),
        ("ủy", "uỷ"),
        ("khỏe", "khoẻ"),
        ("HÒA", "HOÀ"),
        ("Tùy", "Tuỳ"),
    ],
)
def test_both_tone_styles_have_one_canonical_form(a, b):
    assert canonical(a) == canonical(b)


@pytest.mark.parametrize("word", ["hoàn", "thuyết", "quý", "quỳnh", "khoan", "Quà"])
def test_tone_style_leaves_syllables_where_styles_agree(word):
    assert old_tone_style(word) == word
    assert new_tone_style(word) == word


def test_tone_style_round_trip_keeps_case():
    assert new_tone_style("Hòa Bình THỦY") == "Hoà Bình THUỶ"
    assert old_tone_style("Hoà Bình THUỶ") == "Hòa Bình THỦY"


def test_nfd_and_nfc_are_one_form():
    word = "Lạng Sơn"
    assert canonical(unicodedata.normalize("NFD", word)) == canonical(word) == "lạng sơn"


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Lạng Sơn", "lang son"), ("Đảng ủy", "dang uy"), ("ĐƯỜNG", "duong"), ("abc 123", "abc 123")],
)
def test_fold_removes_every_mark(text, folded):
    assert fold(text) == folded
    assert fold(unicodedata.normalize("NFD", text)) == folded


def test_has_diacritics():
    assert has_diacritics("lạng sơn")
    assert has_diacritics("đi")
    assert not has_diacritics("lang son")
    assert not has_diacritics("UBND 2024")


def test_mostly_upper():
    assert is_mostly_upper("ĐẢNG ỦY QUÂN SỰ TỈNH")
    assert not is_mostly_upper("Đảng ủy quân sự tỉnh Lạng Sơn, UBND")


def _over_70_percent_capitals(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) / len(letters) > 0.7


@example("naoDEFGHIJ")  # capitals at 70 % of the letters exactly: not over
@example("abcDEFGHIJ   ")
@given(st.text(alphabet=st.sampled_from(list("nhtaNHTAĐđỦủXx 1.Ⓐ\u01c5\t")), max_size=30))
def test_mostly_upper_is_a_share_of_the_letters(text):
    assert is_mostly_upper(text) == _over_70_percent_capitals(text)


vietnamese = st.text(
    alphabet=st.sampled_from([*list("aăâeêioôơuưyđAĂÂEÊIOÔƠUƯYĐbcghknqt "), "̀", "́", "̉", "̃", "̣"]),
    max_size=40,
)


@given(st.text())
def test_normalisation_never_raises_and_is_idempotent(text):
    assert canonical(canonical(text)) == canonical(text)
    assert fold(fold(text)) == fold(text)
    assert nfc(nfc(text)) == nfc(text)


@example("UỲ\u0300")  # a mark stacked on a toned vowel, moved by the tone style
@given(vietnamese)
def test_variants_of_one_text_share_canonical_form(text):
    forms = {
        canonical(text),
        canonical(unicodedata.normalize("NFD", text)),
        canonical(text.upper()),
        canonical(new_tone_style(nfc(text))),
        canonical(old_tone_style(nfc(text))),
    }
    assert len(forms) == 1


@given(vietnamese)
def test_fold_agrees_with_canonical(text):
    assert fold(canonical(text)) == fold(text)
