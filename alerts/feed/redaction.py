"""Remove personal data from free text shown to roles that must not see it (analysts, the public).

Ingestion already masks what it recognises; this second pass is deliberately stricter: it
replaces anything that *looks like* a phone number, a resident ID number or a person's name
with a placeholder instead of keeping partial digits, because an analyst needs the pattern of
an incident, never the people in it. Name detection is heuristic (labelled names such as
"联系人张三", honorifics such as "王先生", already-masked "李**").

A labelled name is 2 or 3 Han characters, and Chinese has no spaces to say where it ends, so
the text after it decides: a name ends at anything not Han, or where a word that commonly
follows a name begins ("联系人张三反映…" is 张三, "联系人王小明家中…" is 王小明). When
nothing tells, 3 characters are taken (hiding one word character rather than leaking one
name character). Text that starts with such a word ("联系人电话…") is no name at all.
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
_NAME_CHAR = r"[\u4e00-\u9fff*]"  # a Han character, or one masked by ingestion
_LABELS = "姓名|联系人|报警人|报案人|来电人|求助人|投诉人|户主|业主|当事人"
_AFTER_NAME_WORDS = (
    "反映|反应|表示|报警|报案|来电|致电|投诉|举报|求助|告知|要求|发现|称其|电话|手机|联系|"
    "家中|住在|位于|已经|目前|现在|正在|先生|女士"
)
"""Words that commonly follow a name in a report; also never the start of a name."""
_AFTER_NAME_CHARS = "称说讲在已的和与及等家"
"""Single characters that follow a 2-character name ("张三称", "李四在家")."""

_ENDS = rf"(?!{_NAME_CHAR})"
_NAME = (
    rf"(?!{_AFTER_NAME_WORDS}|[称说讲在已的])"  # "联系人电话…", "报警人称…": no name here
    rf"(?:{_CJK}{_NAME_CHAR}{{2}}{_ENDS}"  # 王小明。
    rf"|{_CJK}{_NAME_CHAR}{_ENDS}"  # 张三 138…
    rf"|{_CJK}{_NAME_CHAR}{{2}}(?={_AFTER_NAME_WORDS})"  # 王小明反映
    rf"|{_CJK}{_NAME_CHAR}(?={_AFTER_NAME_WORDS}|[{_AFTER_NAME_CHARS}])"  # 张三反映, 张三称
    rf"|{_CJK}{_NAME_CHAR}{{1,2}})"  # nothing tells: the longer
)
_LABELLED_NAME = re.compile(rf"({_LABELS})([:：\s]*)({_NAME})")
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
