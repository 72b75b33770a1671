"""Personal data is masked in what normalization passes on."""

from riskwatch.contracts.personal_data import id_check_char, is_resident_id, mask_name, mask_phone, mask_text


def _valid_id(first17: str) -> str:
    return first17 + id_check_char(first17)


def test_check_digit_follows_gb11643() -> None:
    # 11010519491231002X is the standard's own worked example.
    assert id_check_char("11010519491231002") == "X"
    assert is_resident_id("11010519491231002X")
    assert not is_resident_id("110105194912310021")


def test_phone_keeps_first_three_and_last_four() -> None:
    assert mask_phone("13812341234") == "138****1234"


def test_name_keeps_surname() -> None:
    assert mask_name("李小明") == "李**"


def test_text_masks_valid_ids_phones_and_names_only() -> None:
    person_id = _valid_id("41010519900307123")
    not_an_id = person_id[:17] + ("0" if person_id[17] != "0" else "1")
    text = f"我是王建国，电话13912345678，身份证{person_id}，工单号{not_an_id}"
    masked = mask_text(text, ("王建国",))
    assert "13912345678" not in masked and "139****5678" in masked
    assert person_id not in masked and f"{person_id[:6]}********{person_id[-4:]}" in masked
    assert not_an_id in masked  # a digit run that is not a valid ID is left alone
    assert "王建国" not in masked and "王**" in masked
