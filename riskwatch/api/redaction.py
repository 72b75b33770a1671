"""Remove personal data from free text shown to roles that must not see it (analysts, the public).

Ingestion already masks what it recognises; this second pass is deliberately stricter: it
replaces anything that *looks like* a phone number, a resident ID number or a person's name
with a placeholder instead of keeping partial digits, because an analyst needs the pattern of
an incident, never the people in it. Name detection is heuristic (labelled names such as
"联系人张三", honorifics such as "王先生", already-masked "李**").
"""

from __future__ import annotations

import re

PHONE = "[电话]"
ID_NUMBER = "[证件号]"
NAME = "[姓名]"

_ID = re.compile(r"(?<![0-9A-Za-z])\d{6}[0-9*]{8}[0-9*]{3}[0-9Xx*](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9*]{9}(?![0-9*])")
_LANDLINE = re.compile(r"(?<![0-9])0\d{2,3}-?[0-9*]{7,8}(?![0-9*])")
_CJK = r"[\u4e00-\u9fff]"
_LABELLED_NAME = re.compile(rf"(姓名|联系人|报警人|报案人|来电人|求助人|投诉人|户主|业主|当事人)([:：\s]*)({_CJK}[\u4e00-\u9fff*]{{1,2}})")
_HONORIFIC_NAME = re.compile(rf"{_CJK}{{1,2}}(先生|女士|小姐|师傅|阿姨|大爷|老人)")
_MASKED_NAME = re.compile(rf"{_CJK}\*{{1,3}}")


def redact(text: str) -> str:
    """`text` with phone numbers, ID numbers and names replaced by placeholders."""
    text = _ID.sub(ID_NUMBER, text)
    text = _MOBILE.sub(PHONE, text)
    text = _LANDLINE.sub(PHONE, text)
    text = _LABELLED_NAME.sub(lambda m: f"{m.group(1)}{m.group(2)}{NAME}", text)
    text = _HONORIFIC_NAME.sub(lambda m: f"{NAME}{m.group(1)}", text)
    return _MASKED_NAME.sub(NAME, text)
