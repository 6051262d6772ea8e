import datetime as dt

import pytest
from stdnum.cn import ric, uscc

from tests.validation.vhelpers import make_ric, make_uscc
from validation.field_rules import (
    USCC_CHARS,
    _uscc_check_char_fast,
    check_org_code,
    check_registration_no,
    check_resident_id,
    check_uscc,
    mask_id,
    org_code_check_char,
)

TODAY = dt.date(2025, 6, 30)


def test_org_code_check_char_per_gb_11714():
    # worked example: D2143569 -> weights 3,7,9,10,5,8,4,2 -> check X
    assert org_code_check_char("D2143569") == "X"
    assert check_org_code("D2143569X") is None
    assert check_org_code("D21435691")[0] == "invalid_org_code"
    assert check_org_code("D2143569") is not None  # too short


@pytest.mark.parametrize("body,expected", [("00000001", "9"), ("MA4L1234", None)])
def test_org_code_10_and_11_map_to_x_and_0(body, expected):
    c = org_code_check_char(body)
    assert c in "0123456789X"
    if expected:
        assert c == expected
    # brute force a body whose C would be 11 (-> '0') and one with 10 (-> 'X')
    seen = {org_code_check_char(f"{i:08d}") for i in range(200)}
    assert {"0", "X"} <= seen


def test_fast_check_characters_agree_with_reference():
    import random

    rng = random.Random(7)
    for _ in range(2000):
        first17 = "".join(rng.choice(USCC_CHARS) for _ in range(17))
        assert _uscc_check_char_fast(first17) == uscc.calc_check_digit(first17)
        body = "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
        expected = (
            11 - sum(int(ch, 36) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        )
        assert org_code_check_char(body) == (
            "X" if expected == 10 else "0" if expected == 11 else str(expected)
        )


def test_known_real_uscc_is_valid():
    assert check_uscc("91350100M000100Y43") is None  # public example code


def test_uscc_both_check_characters():
    code = make_uscc()
    assert check_uscc(code) is None
    bad_last = code[:17] + ("0" if code[17] != "0" else "1")
    assert check_uscc(bad_last) == ("invalid_uscc", "校验位错误（GB 32100-2015）")
    # change the org-code check char (pos 17) and recompute char 18: only our GB 11714 check sees it
    body = code[:16] + ("0" if code[16] != "0" else "1")
    forged = body + uscc.calc_check_digit(body)
    assert uscc.is_valid(forged)  # stdnum accepts it
    assert check_uscc(forged)[0] == "invalid_uscc"


def test_uscc_letter_registration_authority_codes_accepted_unlike_stdnum():
    for prefix in ("N2430100", "Y1430100", "A1430100"):
        code = make_uscc(prefix, "MA4L1234")
        assert check_uscc(code) is None
        assert not uscc.is_valid(code)  # why we do not use stdnum's validate()


def test_uscc_forbidden_letters_and_length():
    code = make_uscc()
    assert check_uscc(code[:17])[0] == "invalid_uscc"
    assert check_uscc("I" + code[1:])[0] == "invalid_uscc"  # I is not in the GB 32100 charset


def test_resident_id():
    good = make_ric("43010219900307123")
    assert check_resident_id(good, TODAY) is None
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert check_resident_id(wrong, TODAY)[0] == "invalid_id_number"
    future = make_ric("43010220300101123")
    assert check_resident_id(future, TODAY)[0] == "invalid_id_number"
    bad_date = make_ric("43010219900230123")
    assert check_resident_id(bad_date, TODAY)[0] == "invalid_id_number"


def test_resident_id_unknown_birthplace_accepted_unlike_stdnum():
    code = make_ric("99999919900307123")  # no such division in stdnum's table
    assert check_resident_id(code, TODAY) is None
    assert not ric.is_valid(code)


def test_registration_no_and_mask():
    assert check_registration_no("430100000012345") is None
    assert check_registration_no("43010000001234")[0] == "invalid_registration_no"
    assert mask_id("43010219900307123X") == "4301****123X"
