"""Official identifiers: UAI check letter, INSEE and SIREN codes."""

import pytest

from preau.territory import codes


@pytest.mark.parametrize("uai", ["0420146F", "0420111T", "0429901J", "0429902K", "0429903L", "0352443R"])
def test_valid_uai(uai):
    assert codes.uai_error(uai) is None


def test_uai_check_letter_formula():
    # ABCDEFGHJKLMNPRSTUVWXYZ[int(first 7 digits) % 23]: no I, O, Q.
    assert codes.uai_check_letter("0420146") == "F"
    assert codes.UAI_LETTERS[420146 % 23] == "F"
    assert set("IOQ").isdisjoint(codes.UAI_LETTERS) and len(codes.UAI_LETTERS) == 23


@pytest.mark.parametrize("uai, expected", [
    ("0420111X", "la lettre de contrôle devrait être T"),
    ("042011T", "7 chiffres suivis d'une lettre"),
    ("", "7 chiffres suivis d'une lettre"),
    ("0420111t", "7 chiffres suivis d'une lettre"),
    ("A420111T", "7 chiffres suivis d'une lettre"),
])
def test_invalid_uai_explains(uai, expected):
    assert expected in codes.uai_error(uai)


def test_normalize_uai():
    assert codes.normalize_uai(" 0420111t ") == "0420111T"


@pytest.mark.parametrize("code", ["42218", "01001", "2A004", "2B033", "97101", "97611", "98735", "75056"])
def test_valid_insee(code):
    assert codes.insee_error(code) is None


@pytest.mark.parametrize("code", ["4221", "422180", "99001", "20001", "00001", "2C004", "ABCDE", "", "96001"])
def test_invalid_insee(code):
    assert "code INSEE" in codes.insee_error(code)


def test_normalize_insee_restores_leading_zero():
    assert codes.normalize_insee("1001") == "01001"
    assert codes.normalize_insee(" 2a004 ") == "2A004"
    assert codes.normalize_insee("42218") == "42218"


def test_siren():
    assert codes.siren_error("244200770") is None
    assert "9 chiffres" in codes.siren_error("24420077")
    assert "9 chiffres" in codes.siren_error("24420077A")
