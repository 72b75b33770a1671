"""Mask personal data in free text and fields before an event leaves normalization.

Phones keep their first 3 and last 4 digits, resident ID numbers (validated by their GB 11643
check digit, so random digit runs are left alone) their first 6 and last 4, names their surname.
"""

from __future__ import annotations

import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_PATTERN = re.compile(r"(?<![0-9])\d{17}[0-9Xx](?![0-9Xx])")
_MOBILE_PATTERN = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")
_LANDLINE_PATTERN = re.compile(r"(?<![0-9])0\d{2,3}-?\d{7,8}(?![0-9])")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_resident_id(candidate: str) -> bool:
    """True when an 18-character string is a resident ID number with a valid check character."""
    return (
        len(candidate) == 18
        and candidate[:17].isdigit()
        and id_check_char(candidate[:17]) == candidate[17].upper()
    )


def mask_phone(phone: str) -> str:
    """`13812341234` → `138****1234`; other lengths keep only their last 4 digits."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[7:]}"
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_id(number: str) -> str:
    return f"{number[:6]}{'*' * 8}{number[-4:]}"


def mask_name(name: str) -> str:
    """Keep the surname: `李小明` → `李**`."""
    name = name.strip()
    return f"{name[:1]}{'*' * max(len(name) - 1, 1)}" if name else name


def mask_text(text: str, names: tuple[str, ...] = ()) -> str:
    """Mask ID numbers, mobile and landline numbers, and the given names anywhere in `text`."""
    text = _ID_PATTERN.sub(lambda m: mask_id(m.group()) if is_resident_id(m.group()) else m.group(), text)
    text = _MOBILE_PATTERN.sub(lambda m: mask_phone(m.group()), text)
    text = _LANDLINE_PATTERN.sub(lambda m: mask_phone(m.group()), text)
    for name in names:
        if name and len(name.strip()) > 1:
            text = text.replace(name.strip(), mask_name(name))
    return text
