"""A coordinator who gets config/roster/*.toml, config/campaigns.toml or an outline wrong reads why in Vietnamese.

Each file below holds several mistakes. The loader stops at the first, so
the test does what the coordinator does: read the message, fix the mistake
it names, load again, until the file loads. Every mistake must be named
exactly once, by file and key (and agency or campaign), in Vietnamese.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from reference.campaigns import CampaignError, load_campaigns
from reference.roster import RosterError, load_roster

CONFIG = Path(__file__).resolve().parent.parent / "config"
# Words of the English messages these loaders used to give; none may be left once the names are set aside.
ENGLISH = ("must", "unknown", "cannot", "got", "is", "not", "does", "missing", "duplicate", "already", "should",
           "invalid", "expected", "found", "agency", "campaign", "section", "outline", "keys", "look", "like",
           "between", "string", "list", "table", "the", "of", "and", "or", "with", "from", "before", "after",
           "also", "used", "listed", "declares", "needs", "least", "year", "domain", "address", "shared", "owes")
VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ]")
# What the user typed stays as typed: quoted values, [[tables]], paths and `key = value` assignments.
TYPED = re.compile(r"'[^']*'|\"[^\"]*\"|\[\[[^\]]*\]\]|\S*/\S*|\b[a-z_]+ = \S+")


@dataclass(frozen=True)
class Mistake:
    bad: str  # text in the file
    fix: str  # what the coordinator writes instead
    key: str  # the key the message must name
    marks: tuple[str, ...]  # what else the message must say: the value, the agency or campaign


def english_words(message: str) -> list[str]:
    prose = TYPED.sub(" ", message).lower()
    return [w for w in ENGLISH if re.search(rf"(?<![\w'-]){w}(?![\w'-])", prose)]


def fix_one_by_one(path: Path, files: dict[Path, str], mistakes: list[Mistake], load, error) -> list[str]:
    """Load, match the message to the one mistake it names, fix it, again; the messages in order."""
    texts = dict(files)
    for file, text in texts.items():
        file.write_text(text, encoding="utf-8")
    left, messages = list(mistakes), []
    for _ in range(len(mistakes) + 1):
        try:
            load(path)
        except error as exc:
            message = str(exc)
        else:
            break
        named = [m for m in left if names_key(message, m.key) and all(mark in message for mark in m.marks)]
        assert len(named) == 1, (message, named)
        mistake = named[0]
        file = next(f for f, t in texts.items() if mistake.bad in t)
        assert message.startswith(f"{file}: "), message
        texts[file] = texts[file].replace(mistake.bad, mistake.fix, 1)
        file.write_text(texts[file], encoding="utf-8")
        left.remove(mistake)
        messages.append(message)
    assert left == [], f"never reported: {left}"
    return messages


def names_key(message: str, key: str) -> bool:
    """The key as the file has it: quoted ('until') or as an assignment (until = 2024)."""
    return f"'{key}'" in message or f"{key} = " in message


def assert_vietnamese(messages: list[str]) -> None:
    """No English word left, and every part after the file (agency, key, reason) written in Vietnamese."""
    for message in messages:
        assert english_words(message) == [], message
        for part in message.split(": ")[1:]:
            prose = TYPED.sub(" ", part)
            assert not re.search(r"[A-Za-z]", prose) or VIETNAMESE_LETTERS.search(prose), (part, message)


ROSTER = '''
[[agency]]
slug = "an-giang"
name = "Tỉnh An Giang"
short_name = "An Giang"
kind = "tinh"
kind_of = "x"
code = "A9"
from = 2020
until = 1999
domains = ["gmail.com"]
addresses = ["vanthu.angiang.gov.vn"]

[[agency]]
slug = "tinh-kien-giang"
name = "Tỉnh Kiên Giang"
short_name = "Kiên Giang"
kind = "province"
code = "91"
from = "2020"
aliases = ["an giang"]
addresses = ["vanthu@angiang.gov.vn"]

  [[agency.change]]
  from = 2019
  absorbed = ["long-an"]
'''
ROSTER_MISTAKES = [
    Mistake('kind = "tinh"', 'kind = "province"', "kind", ("đơn vị 'an-giang'", "'tinh'")),
    Mistake('kind_of = "x"\n', "", "kind_of", ("đơn vị 'an-giang'",)),
    Mistake('code = "A9"', 'code = "89"', "code", ("đơn vị 'an-giang'", "'A9'")),
    Mistake("until = 1999", "until = 2024", "until", ("đơn vị 'an-giang'", "1999")),
    Mistake('domains = ["gmail.com"]', 'domains = ["angiang.gov.vn"]', "domains", ("đơn vị 'an-giang'", "'gmail.com'")),
    Mistake('addresses = ["vanthu.angiang.gov.vn"]', 'addresses = ["vanthu@angiang.gov.vn"]', "addresses",
            ("đơn vị 'an-giang'", "'vanthu.angiang.gov.vn'")),
    Mistake('from = "2020"', "from = 2020", "from", ("đơn vị 'tinh-kien-giang'", "'2020'")),
    Mistake('slug = "tinh-kien-giang"', 'slug = "kien-giang"', "slug", ("đơn vị 'tinh-kien-giang'", "'kien-giang'")),
    Mistake("from = 2019", "from = 2025", "from", ("đơn vị 'kien-giang'", "[[agency.change]] thứ 1", "2019")),
    Mistake('absorbed = ["long-an"]', 'absorbed = ["an-giang"]', "absorbed", ("đơn vị 'kien-giang'", "'long-an'")),
    Mistake('addresses = ["vanthu@angiang.gov.vn"]\n\n', 'addresses = ["vanthu@kiengiang.gov.vn"]\n\n',
            "addresses", ("đơn vị 'kien-giang'", "'vanthu@angiang.gov.vn'", "'an-giang'")),
    Mistake('aliases = ["an giang"]', 'aliases = ["KG"]', "aliases",
            ("đơn vị 'kien-giang'", "'an giang'", "'an-giang'")),
]

CAMPAIGNS = '''
[[campaign]]
year = "2023"
dispatch = "4258-BKHCN"
dispatch_date = 2021-01-05
deadline = "30/11/2023"
mailbox = "baocao.tdc.example.vn"
outline = "Ban Moi"

[[campaign]]
year = 2024
deadlin = 2024-11-30
dispatch = "4258/BKHCN-TDC"
'''
OUTLINE = '''
title = "Đề cương mới"

[[section]]
code = "A"
title = "Tình hình chung"
keywords = ["tình hình chung"]

[[section]]
code = "I.1"
tittle = "Kết quả"
keywords = "kết quả"
required = "có"

[[section]]
code = "II.1"
title = "Kiến nghị"
keywords = ["kiến nghị"]
'''
Y2023, Y2024 = "đợt báo cáo năm 2023", "đợt báo cáo năm 2024"
CAMPAIGN_MISTAKES = [
    Mistake('year = "2023"', "year = 2023", "year", ("bảng [[campaign]] thứ 1", "'2023'")),
    Mistake('dispatch = "4258-BKHCN"', 'dispatch = "4258/BKHCN-TĐC"', "dispatch", (Y2023, "'4258-BKHCN'")),
    Mistake("dispatch_date = 2021-01-05", "dispatch_date = 2023-11-17", "dispatch_date", (Y2023, "05/01/2021")),
    Mistake('deadline = "30/11/2023"', "deadline = 2023-11-30", "deadline", (Y2023, "'30/11/2023'")),
    Mistake('mailbox = "baocao.tdc.example.vn"', 'mailbox = "baocao@tdc.example.vn"', "mailbox",
            (Y2023, "'baocao.tdc.example.vn'")),
    Mistake('outline = "Ban Moi"', 'outline = "ban-moi"', "outline", (Y2023, "'Ban Moi'")),
    Mistake('code = "A"', 'code = "I"', "code", ("đề cương 'ban-moi'", "'A'")),
    Mistake('tittle = "Kết quả"', 'title = "Kết quả"', "tittle", ("đề cương 'ban-moi'", "mục I.1")),
    Mistake('keywords = "kết quả"', 'keywords = ["kết quả"]', "keywords", ("đề cương 'ban-moi'", "mục I.1")),
    Mistake('required = "có"', "required = true", "required", ("đề cương 'ban-moi'", "mục I.1", "'có'")),
    Mistake('code = "II.1"', 'code = "II"', "code", ("đề cương 'ban-moi'", "mục II.1", "mục cha II")),
    Mistake("deadlin = 2024-11-30", "deadline = 2024-11-30", "deadlin", (Y2024,)),
    Mistake('dispatch = "4258/BKHCN-TDC"', 'dispatch = "3705/BKHCN-TĐC"', "dispatch",
            (Y2024, "'4258/BKHCN-TDC'", "năm 2023")),
]


def test_a_roster_with_many_mistakes_is_explained_in_vietnamese_one_by_one(tmp_path):
    path = tmp_path / "tinh.toml"
    messages = fix_one_by_one(path, {path: ROSTER}, ROSTER_MISTAKES, load_roster, RosterError)
    assert_vietnamese(messages)
    roster = load_roster(path)  # every fix made, the file is a valid roster
    assert roster.successor("an-giang", 2025) == "kien-giang"


def test_a_campaigns_file_and_its_outline_with_many_mistakes_are_explained_in_vietnamese(tmp_path):
    shutil.copytree(CONFIG / "outlines", tmp_path / "outlines")
    path = tmp_path / "campaigns.toml"
    files = {path: CAMPAIGNS, tmp_path / "outlines" / "ban-moi.toml": OUTLINE}
    messages = fix_one_by_one(path, files, CAMPAIGN_MISTAKES, load_campaigns, CampaignError)
    assert_vietnamese(messages)
    campaigns = load_campaigns(path)
    assert [s.code for s in campaigns[2023].outline] == ["I", "I.1", "II"]


@pytest.mark.parametrize("text,where", [
    ("[[agency]\nslug = 1\n", "dòng 1, cột 9: «[[agency]»"),
    ('[[agency]]\nslug = "an-giang"\nname = "Tỉnh An Giang\n', "dòng 3, cột"),
])
def test_a_toml_syntax_error_names_line_and_column_in_vietnamese(tmp_path, text, where):
    path = tmp_path / "a.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as info:
        load_roster(path)
    message = str(info.value)
    assert message.startswith(f"{path}: sai cú pháp TOML ở {where}"), message
    assert "(trình đọc TOML báo: " in message and "(at line" not in message, message


def test_a_file_that_is_not_utf8_or_missing_is_said_in_vietnamese(tmp_path):
    path = tmp_path / "campaigns.toml"
    with pytest.raises(CampaignError, match="campaigns.toml: không có tệp này$"):
        load_campaigns(path)
    path.write_bytes("[[campaign]]\nnotes = \"Tây Ninh\"\n".encode("cp1258"))
    with pytest.raises(CampaignError, match=r"campaigns.toml: tệp không phải văn bản UTF-8 \(byte lạ ở vị trí \d+\)"):
        load_campaigns(path)
