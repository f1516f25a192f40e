"""The segmentation stack is the tested one: pyvi's dependencies at the versions of
constraints.txt, and pyvi segmenting a fixed text as it did when they were recorded."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        found = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if found:
            pins[found[1]] = found[2]
    return pins


def test_the_segmentation_packages_are_pinned():
    assert {"scikit-learn", "sklearn-crfsuite", "python-crfsuite"} <= set(_pins())


@pytest.mark.parametrize(("name", "pinned"), sorted(_pins().items()))
def test_installed_versions_are_the_tested_ones(name, pinned):
    assert version(name) == pinned, (
        f"{name} {version(name)} is installed, constraints.txt says {pinned}: install with "
        "'pip install -c constraints.txt -e .[test]' (make does), or re-run this test's "
        "segmentation check on the new version before changing the pin"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Chiều 26-6, Đảng ủy Quân sự tỉnh Lạng Sơn tổ chức hội nghị sơ kết công tác quân "
            "sự, quốc phòng địa phương 6 tháng đầu năm 2024.",
            "Chiều 26 - 6 , Đảng_ủy Quân_sự tỉnh Lạng_Sơn tổ_chức hội_nghị sơ_kết công_tác "
            "quân_sự , quốc_phòng địa_phương 6 tháng đầu năm 2024 .",
        ),
        (
            "Ủy ban nhân dân TP.HCM vừa có văn bản gửi các sở, ngành về việc thực hiện chủ "
            "trương xây dựng đường sắt đô thị.",
            "Ủy_ban nhân_dân TP. HCM vừa có văn_bản gửi các sở , ngành về việc thực_hiện "
            "chủ_trương xây_dựng đường_sắt đô_thị .",
        ),
    ],
)
def test_pyvi_segments_a_fixed_text_as_recorded(text, expected):
    from pyvi import ViTokenizer

    assert ViTokenizer.tokenize(text) == expected
