"""The labelled corpus: realistic report-mailbox messages built from code.

Each case below builds one message and states, next to it, what a careful
coordinator would say about it: ``kind`` (report / other / auto_reply /
bounce), ``agency`` (roster slug, or None) and ``year`` (the reported year
for a report, None otherwise), plus the arrival time the server recorded.

    python -m tests.corpus.build DEST     # writes NNN-name.eml and labels.json
"""
from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.corpus.docs import (
    PROGRAMME,
    docx_bytes,
    ministry_report,
    no_diacritics,
    plain_docx,
    province_report,
    scanned_pdf,
    text_pdf,
)
from tests.corpus.texts import DISPATCH_4258, HAI_PHONG_NOTICE

if TYPE_CHECKING:
    import pytest

    from intake.pipeline import IntakeContext, Understanding
    from reference.campaigns import Campaign
    from reference.roster import Roster

BOT = "baocao.nscl@tcvn.gov.vn"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Case:
    name: str
    message: bytes
    kind: str
    agency: str | None
    year: int | None
    arrived_at: datetime
    note: str

    def label(self) -> dict:
        return {"kind": self.kind, "agency": self.agency, "year": self.year,
                "arrived_at": self.arrived_at.isoformat(), "note": self.note}


CASES: list[Callable[[], Case]] = []


def case(fn: Callable[[], Case]) -> Callable[[], Case]:
    CASES.append(fn)
    return fn


def reading_context(roster: Roster, campaigns: dict[int, Campaign], **overrides: Any) -> IntakeContext:
    """What the intake needs to read a corpus mail as the bot at ``BOT`` would: default limits, the shipped
    review threshold, no own domain; ``overrides`` set the rest (a junk filter's trust, our server's names)."""
    from intake.documents.budget import DocLimits
    from intake.limits import Limits
    from intake.pipeline import IntakeContext

    fields: dict[str, Any] = dict(limits=Limits(), doc_limits=DocLimits(), own_addresses=frozenset({BOT}),
                                  own_domain=None, review_threshold=0.6)
    return IntakeContext(roster=roster, campaigns=campaigns, **{**fields, **overrides})


def read_cases(cases: Iterable[tuple[Path, dict]], ctx: IntakeContext) -> Iterator[tuple[Path, dict, Understanding]]:
    """Each written case understood in ``ctx`` as the daemon would, arrived when its label says."""
    from intake.model import RawMessage
    from intake.pipeline import understand

    for path, label in cases:
        raw = RawMessage(f"file:{path.name}", path.read_bytes(), datetime.fromisoformat(label["arrived_at"]), "corpus")
        yield path, label, understand(raw, ctx, store=None)


def check_readings(readings: Iterable[tuple[str, dict, dict, Sequence[str]]], fields: Sequence[str],
                   capsys: pytest.CaptureFixture[str], what: str) -> None:
    """Score (name, got, label, reasons) readings field by field: print the accuracy of each field and every
    miss with the classifier's reasons, so a regression shows why at once; then fail on any miss."""
    hits = dict.fromkeys(fields, 0)
    misses: list[str] = []
    total = 0
    for name, got, label, reasons in readings:
        total += 1
        wrong = [f for f in fields if got[f] != label[f]]
        for f in fields:
            hits[f] += f not in wrong
        if wrong:
            misses.append(f"{name}: " + ", ".join(f"{f} {got[f]!r} ≠ {label[f]!r}" for f in wrong)
                          + f"\n    ({label['note']})\n    lý do: " + " | ".join(reasons))
    width = max(7, *(len(f) for f in fields))
    with capsys.disabled():
        print()
        for f in fields:
            print(f"  {f:{width}s} {hits[f]}/{total} = {hits[f] / total:.1%}")
        for miss in misses:
            print("  MISS " + miss)
    assert not misses, f"{len(misses)} of {total} {what} misread"


def utc(y: int, m: int, d: int, h: int = 3) -> datetime:
    return datetime(y, m, d, h, 15, tzinfo=UTC)


def mail(sender: str, subject: str, body: str, when: datetime, attachments=(), to: str = BOT,
         headers: dict[str, str] | None = None, html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if subject:
        msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    digest = hashlib.sha1(f"{sender}|{subject}|{when.isoformat()}".encode(), usedforsecurity=False).hexdigest()[:16]
    msg["Message-ID"] = f"<{digest}.corpus@example.test>"
    for key, value in (headers or {}).items():
        msg[key] = value
    if html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def docx_att(filename: str, data: bytes) -> tuple[str, str, bytes]:
    return filename, DOCX, data


def cover(unit: str, year: int | None = None) -> str:
    what = f"năm {year} " if year else ""
    return (f"Kính gửi: Ủy ban Tiêu chuẩn Đo lường Chất lượng quốc gia\n\n"
            f"{unit} gửi báo cáo kết quả thực hiện Chương trình {what}(file đính kèm).\n\n"
            f"Trân trọng,\n{unit}\n")


# ---------------------------------------------------------------- reports, official senders

@case
def tay_ninh_2024() -> Case:
    when = utc(2024, 11, 25)
    doc = province_report("Tây Ninh", "tỉnh", 2024)
    msg = mail("Sở KH&CN Tây Ninh <skhcn@tayninh.gov.vn>",
               "Báo cáo kết quả thực hiện Chương trình NSCL năm 2024", cover("Sở KH&CN tỉnh Tây Ninh", 2024),
               when, [docx_att("BC NSCL 2024.docx", docx_bytes(doc))])
    return Case("tay-ninh-2024", msg.as_bytes(), "report", "tay-ninh", 2024, when, "ordinary official report")


@case
def ha_nam_mentions_ha_noi() -> Case:
    when = utc(2023, 11, 28)
    doc = province_report("Hà Nam", "tỉnh", 2023, extra=[
        "Phối hợp với Viện Năng suất Việt Nam tổ chức khóa đào tạo tại Hà Nội; học tập kinh nghiệm của "
        "thành phố Hà Nội và tỉnh Nam Định về hỗ trợ doanh nghiệp.",
        "Cử cán bộ dự hội thảo năng suất chất lượng do Bộ KH&CN tổ chức tại Hà Nội.",
    ])
    msg = mail("Chi cục TĐC Hà Nam <cctdc.hanam@gmail.com>", "Gửi báo cáo Chương trình 1322 năm 2023",
               "Kính gửi Ủy ban TĐC,\nChi cục gửi báo cáo kết quả năm 2023 theo Công văn 4258.\nTrân trọng.",
               when, [docx_att("baocao_1322_2023.docx", docx_bytes(doc))])
    return Case("ha-nam-mentions-ha-noi", msg.as_bytes(), "report", "ha-nam", 2023, when,
                "gmail sender; Hà Nội mentioned more often in the body than Hà Nam")


@case
def ha_noi_2023() -> Case:
    when = utc(2023, 11, 29)
    doc = province_report("Hà Nội", "thành phố", 2023, extra=[
        "Phối hợp với tỉnh Hà Nam, tỉnh Hưng Yên tổ chức diễn đàn năng suất vùng đồng bằng sông Hồng."])
    msg = mail("Phòng QLCN <qlcn_sokhcn@hanoi.gov.vn>", "V/v báo cáo kết quả Chương trình năng suất chất lượng 2023",
               cover("Sở KH&CN thành phố Hà Nội", 2023), when, [docx_att("HN_BC_NSCL_2023.docx", docx_bytes(doc))])
    return Case("ha-noi-2023", msg.as_bytes(), "report", "ha-noi", 2023, when, "department host of hanoi.gov.vn")


@case
def binh_duong_pacific() -> Case:
    when = utc(2022, 11, 25)
    doc = province_report("Bình Dương", "tỉnh", 2022, extra=[
        "Doanh nghiệp xuất khẩu sang thị trường các nước vành đai Thái Bình Dương được hỗ trợ áp dụng "
        "tiêu chuẩn; báo cáo hàng năm định kỳ gửi Sở.",
    ])
    msg = mail("Nguyễn Thị Lan <lannt.sokhcn@gmail.com>", "Bao cao NSCL 2022",
               "Kinh gui anh chi,\nEm gui bao cao cua So (file dinh kem).\nTran trong,\nLan", when,
               [docx_att("bao cao.docx", docx_bytes(doc))])
    return Case("binh-duong-pacific", msg.as_bytes(), "report", "binh-duong", 2022, when,
                "gmail sender; 'Thái Bình Dương' and 'năm định kỳ' must not name Thái Bình / Nam Định")


@case
def quang_ngai_signature_only() -> Case:
    when = utc(2024, 11, 27)
    doc = province_report("Quảng Ngãi", "tỉnh", 2024,
                          title=f"Kết quả triển khai {PROGRAMME} năm 2024")
    doc.issuer_top = "SỞ KHOA HỌC VÀ CÔNG NGHỆ"
    doc.issuer_unit = "CHI CỤC TIÊU CHUẨN ĐO LƯỜNG CHẤT LƯỢNG"
    doc.place_date = "ngày 26 tháng 11 năm 2024"
    doc.addressees = ["Bộ Khoa học và Công nghệ"]
    doc.closing = "Trên đây là báo cáo của Chi cục./."
    doc.sections = [(h, [p.replace("trên địa bàn tỉnh Quảng Ngãi", "trên địa bàn") for p in ps])
                    for h, ps in doc.sections]
    body = ("Kính gửi Quý Ủy ban,\nChi cục xin gửi báo cáo năm 2024.\n\nTrân trọng,\nTrần Văn Bình\n"
            "Phòng Quản lý TĐC - Chi cục TĐC tỉnh Quảng Ngãi\nĐT: 0255 3822 123\n")
    msg = mail("Tran Van Binh <binhtv1980@gmail.com>", "Gửi báo cáo năng suất chất lượng năm 2024",
               body, when, [docx_att("BC.docx", docx_bytes(doc, header_table=False))])
    return Case("quang-ngai-signature-only", msg.as_bytes(), "report", "quang-ngai", 2024, when,
                "the province appears only in the mail signature")


@case
def vinh_long_no_diacritics() -> Case:
    when = utc(2023, 11, 24)
    doc = province_report("Vĩnh Long", "tỉnh", 2023)
    data = plain_docx([no_diacritics(line) for line in doc.lines()])
    msg = mail("skhcn.vinhlong@gmail.com", "Bao cao ket qua Chuong trinh nang suat chat luong nam 2023",
               "Kinh gui Uy ban TDC,\nSo KHCN tinh Vinh Long gui bao cao ket qua nam 2023.\nTran trong,\n"
               "So KH-CN Vinh Long", when, [docx_att("bc-nscl-2023.docx", data)])
    return Case("vinh-long-no-diacritics", msg.as_bytes(), "report", "vinh-long", 2023, when,
                "everything without diacritics; place name only inside a gmail address and text")


@case
def dong_thap_forward_rfc822() -> Case:
    when = utc(2023, 11, 30, 9)
    doc = province_report("Đồng Tháp", "tỉnh", 2023)
    inner = mail("Sở KH&CN Đồng Tháp <skhcn@dongthap.gov.vn>", "Báo cáo Chương trình NSCL năm 2023",
                 cover("Sở KH&CN Đồng Tháp", 2023), utc(2023, 11, 29),
                 [docx_att("DT-bao-cao-2023.docx", docx_bytes(doc))], to="tdc.nguyen@gmail.com")
    outer = mail("Nguyễn Minh <tdc.nguyen@gmail.com>", "Fwd: Báo cáo Chương trình NSCL năm 2023",
                 "Chuyển tiếp báo cáo của Đồng Tháp gửi nhầm vào hộp thư cá nhân.", when)
    outer.add_attachment(inner)
    return Case("dong-thap-forward-rfc822", outer.as_bytes(), "report", "dong-thap", 2023, when,
                "forwarded as message/rfc822 from a personal address")


@case
def binh_dinh_inline_forward() -> Case:
    when = utc(2024, 12, 2)
    doc = province_report("Bình Định", "tỉnh", 2024, place="Quy Nhơn")
    body = ("Em chuyển tiếp báo cáo ạ.\n\n---------- Forwarded message ---------\n"
            "From: Chi cục TĐC Bình Định <cctdc@skhcn.binhdinh.gov.vn>\n"
            "Date: Thu, 28 Nov 2024 at 15:02\nSubject: Bao cao ket qua NSCL 2024\n"
            "To: <hoa.tdc@yahoo.com>\n\nKinh gui,\nChi cuc gui bao cao nam 2024.\nTran trong.\n")
    msg = mail("Hoa <hoa.tdc@yahoo.com>", "Fwd: Bao cao ket qua NSCL 2024", body, when,
               [docx_att("BinhDinh_2024.docx", docx_bytes(doc))])
    return Case("binh-dinh-inline-forward", msg.as_bytes(), "report", "binh-dinh", 2024, when,
                "inline forward; original sender on a department host of binhdinh.gov.vn")


@case
def lam_dong_renumbered() -> Case:
    when = utc(2023, 11, 22)
    doc = province_report("Lâm Đồng", "tỉnh", 2023, place="Đà Lạt", numbering="letters")
    msg = mail("skhcn@lamdong.gov.vn", "Báo cáo kết quả NSCL 2023", cover("Sở KH&CN Lâm Đồng", 2023), when,
               [docx_att("LD.docx", docx_bytes(doc))])
    return Case("lam-dong-renumbered", msg.as_bytes(), "report", "lam-dong", 2023, when, "sections A, B, C, D")


@case
def cao_bang_year_only_in_attachment() -> Case:
    when = utc(2023, 5, 10)  # a late report: arrival alone would say 2023
    doc = province_report("Cao Bằng", "tỉnh", 2022, date="05 tháng 5")
    msg = mail("Sở KH&CN Cao Bằng <vanthu@khcn.caobang.gov.vn>", "Gửi báo cáo",
               "Kính gửi Ủy ban TĐC,\nSở gửi báo cáo theo yêu cầu.\nTrân trọng.", when,
               [docx_att("baocao.docx", docx_bytes(doc, header_table=False))])
    return Case("cao-bang-year-in-attachment", msg.as_bytes(), "report", "cao-bang", 2022, when,
                "no year in subject or body; the attachment title says 2022; arrived May 2023")


@case
def ca_mau_dispatch_year() -> Case:
    when = utc(2024, 4, 28)
    doc = province_report("Cà Mau", "tỉnh", 2023, date="25 tháng 4",
                          title=f"Kết quả thực hiện {PROGRAMME} trên địa bàn tỉnh Cà Mau",
                          closing_year=False)
    doc.place_date = "Cà Mau, ngày 25 tháng 4 năm 2024"
    doc.grounds = ["Thực hiện Công văn số 4258/BKHCN-TĐC ngày 17/11/2023 của Bộ Khoa học và Công nghệ, "
                   "Sở KH&CN báo cáo như sau:"]
    doc.sections = [(h, [p.replace("Trong năm 2023, ", "") for p in ps]) for h, ps in doc.sections[:2]]
    msg = mail("skhcn@camau.gov.vn", "Báo cáo kết quả thực hiện Chương trình NSCL",
               "Thực hiện Công văn số 4258/BKHCN-TĐC, Sở KH&CN Cà Mau gửi báo cáo (đính kèm).\nTrân trọng.",
               when, [docx_att("CaMau.docx", docx_bytes(doc))])
    return Case("ca-mau-dispatch-year", msg.as_bytes(), "report", "ca-mau", 2023, when,
                "year only through dispatch 4258/BKHCN-TĐC (2023); arrived April 2024")


@case
def long_an_2025_merged() -> Case:
    when = utc(2025, 11, 20)
    doc = province_report("Long An", "tỉnh", 2025, place="Tân An")
    msg = mail("Sở KH&CN Long An <skhcn@longan.gov.vn>", "Báo cáo kết quả Chương trình NSCL năm 2025",
               cover("Sở KH&CN", 2025), when, [docx_att("LA-2025.docx", docx_bytes(doc))])
    return Case("long-an-2025-merged", msg.as_bytes(), "report", "tay-ninh", 2025, when,
                "old Long An address and name after the 1 July 2025 merger -> Tây Ninh")


@case
def ha_giang_2025_merged() -> Case:
    when = utc(2025, 11, 26)
    doc = province_report("Hà Giang", "tỉnh", 2025)
    msg = mail("skhcn@hagiang.gov.vn", "Bao cao NSCL nam 2025", cover("So KHCN Ha Giang"), when,
               [docx_att("HG.docx", docx_bytes(doc))])
    return Case("ha-giang-2025-merged", msg.as_bytes(), "report", "tuyen-quang", 2025, when,
                "hagiang.gov.vn in 2025 -> Tuyên Quang")


@case
def long_an_2024() -> Case:
    when = utc(2024, 11, 21)
    doc = province_report("Long An", "tỉnh", 2024, place="Tân An")
    msg = mail("skhcn@longan.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2024", cover("Sở KH&CN Long An", 2024),
               when, [docx_att("LA-2024.docx", docx_bytes(doc))])
    return Case("long-an-2024", msg.as_bytes(), "report", "long-an", 2024, when, "before the merger Long An owes")


@case
def long_an_2024_late_in_2025() -> Case:
    when = utc(2025, 2, 14)
    doc = province_report("Long An", "tỉnh", 2024, place="Tân An", date="10 tháng 02")
    msg = mail("skhcn@longan.gov.vn", "Bổ sung báo cáo NSCL năm 2024", cover("Sở KH&CN Long An", 2024),
               when, [docx_att("LA-2024-bosung.docx", docx_bytes(doc))])
    return Case("long-an-2024-late", msg.as_bytes(), "report", "long-an", 2024, when,
                "arrives in 2025 but reports on 2024, when Long An still owed")


@case
def ha_giang_name_from_gmail_2025() -> Case:
    when = utc(2025, 12, 1)
    doc = province_report("Hà Giang", "tỉnh", 2025)
    msg = mail("hgtdc2025@gmail.com", "Báo cáo năng suất chất lượng 2025",
               "Kính gửi,\nGửi báo cáo (đính kèm).\nTrân trọng", when, [docx_att("bc.docx", docx_bytes(doc))])
    return Case("ha-giang-name-gmail-2025", msg.as_bytes(), "report", "tuyen-quang", 2025, when,
                "unknown sender; old province name in a 2025 report -> successor")


@case
def dong_nai_mentions_neighbours() -> Case:
    when = utc(2024, 11, 29)
    doc = province_report("Đồng Nai", "tỉnh", 2024, place="Biên Hòa", extra=[
        "Tham quan học tập mô hình tại tỉnh Bình Dương, tỉnh Long An, thành phố Hồ Chí Minh.",
        "Phối hợp với Sở KH&CN tỉnh Bình Dương, tỉnh Bà Rịa - Vũng Tàu và TP.HCM tổ chức hội chợ.",
        "Doanh nghiệp của Bình Dương và TP.HCM tham gia chuỗi cung ứng với doanh nghiệp Bình Dương.",
    ])
    msg = mail("Phòng QLCN <phongqlcn.dn@outlook.com>", "Báo cáo kết quả năm 2024 Chương trình NSCL",
               "Kính gửi Ủy ban TĐC,\nGửi báo cáo.\nTrân trọng", when, [docx_att("DongNai2024.docx", docx_bytes(doc))])
    return Case("dong-nai-mentions-neighbours", msg.as_bytes(), "report", "dong-nai", 2024, when,
                "body cites neighbours more often than the author")


@case
def bo_y_te_2023() -> Case:
    when = utc(2023, 11, 30)
    doc = ministry_report("Bộ Y tế", 2023)
    msg = mail("Vụ KH&ĐT <vkhdt@moh.gov.vn>", "Bộ Y tế gửi báo cáo kết quả năm 2023 Chương trình 1322",
               cover("Bộ Y tế", 2023), when, [docx_att("BYT-1322-2023.docx", docx_bytes(doc))])
    return Case("bo-y-te-2023", msg.as_bytes(), "report", "bo-y-te", 2023, when, "ministry, official domain")


@case
def bo_cong_thuong_gmail() -> Case:
    when = utc(2024, 11, 26)
    doc = ministry_report("Bộ Công Thương", 2024)
    msg = mail("vukhcn.bct@gmail.com", "BCT - Báo cáo NSCL 2024",
               "Kính gửi Ủy ban TĐC,\nVụ KHCN - BCT gửi báo cáo.\nTrân trọng", when,
               [docx_att("BCT_NSCL_2024.docx", docx_bytes(doc))])
    return Case("bo-cong-thuong-gmail", msg.as_bytes(), "report", "bo-cong-thuong", 2024, when,
                "ministry from gmail: header 'BỘ CÔNG THƯƠNG' beats the place line 'Hà Nội'")


@case
def bo_gtvt_2025_merged() -> Case:
    when = utc(2025, 11, 25)
    doc = ministry_report("Bộ Giao thông vận tải", 2025)
    msg = mail("vukhcn@mt.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2025", cover("Vụ KHCN&MT"), when,
               [docx_att("GTVT.docx", docx_bytes(doc))])
    return Case("bo-gtvt-2025-merged", msg.as_bytes(), "report", "bo-xay-dung", 2025, when,
                "old ministry domain after the 1 March 2025 merger -> Bộ Xây dựng")


@case
def hcm_abbreviation() -> Case:
    when = utc(2024, 11, 28)
    doc = province_report("Hồ Chí Minh", "thành phố", 2024)
    doc.title = f"Kết quả thực hiện {PROGRAMME} năm 2024 tại TP.HCM"
    msg = mail("chicuctdc.hcm@gmail.com", "BC NSCL 2024 - Sở KH&CN TP.HCM",
               "Kính gửi,\nGửi anh chị báo cáo.\nThân ái", when, [docx_att("HCM.docx", docx_bytes(doc))])
    return Case("hcm-abbreviation", msg.as_bytes(), "report", "ho-chi-minh", 2024, when, "TP.HCM abbreviation")


@case
def thanh_hoa_body_only() -> Case:
    when = utc(2023, 11, 27)
    doc = province_report("Thanh Hóa", "tỉnh", 2023)
    msg = mail("skhcn@thanhhoa.gov.vn", "Báo cáo kết quả Chương trình NSCL 2023",
               "Kính gửi Ủy ban TĐC, Sở KH&CN Thanh Hóa báo cáo như sau:\n\n" + doc.text(), when)
    return Case("thanh-hoa-body-only", msg.as_bytes(), "report", "thanh-hoa", 2023, when,
                "report pasted into the body, no attachment")


@case
def quang_ninh_scanned() -> Case:
    when = utc(2024, 11, 30)
    msg = mail("skhcn@quangninh.gov.vn", "Báo cáo kết quả thực hiện Chương trình NSCL năm 2024",
               "Kính gửi Ủy ban TĐC,\nSở gửi bản scan báo cáo có chữ ký, đóng dấu.\nTrân trọng.", when,
               [("BC-scan.pdf", "application/pdf", scanned_pdf())])
    return Case("quang-ninh-scanned", msg.as_bytes(), "report", "quang-ninh", 2024, when,
                "image-only PDF: agency from the sender, year from the subject")


@case
def kien_giang_plan_year_in_title() -> Case:
    when = utc(2025, 1, 15)
    doc = province_report("Kiên Giang", "tỉnh", 2024, place="Rạch Giá", date="10 tháng 01",
                          title=(f"Kết quả thực hiện năm 2024 và phương hướng nhiệm vụ năm 2025 của {PROGRAMME} "
                                 "trên địa bàn tỉnh Kiên Giang"))
    doc.place_date = "Rạch Giá, ngày 10 tháng 01 năm 2025"
    msg = mail("skhcn@kiengiang.gov.vn", "Báo cáo kết quả năm 2024, phương hướng năm 2025 - Chương trình NSCL",
               cover("Sở KH&CN Kiên Giang"), when, [docx_att("KG.docx", docx_bytes(doc))])
    return Case("kien-giang-plan-year", msg.as_bytes(), "report", "kien-giang", 2024, when,
                "title has the result year, the plan year and the programme period")


@case
def an_giang_reply_to_dispatch() -> Case:
    when = utc(2023, 11, 29)
    doc = province_report("An Giang", "tỉnh", 2023, place="Long Xuyên")
    quoted = "\n".join("> " + ln for ln in DISPATCH_4258.splitlines()[:30])
    msg = mail("skhcn@angiang.gov.vn", "Re: V/v báo cáo kết quả thực hiện nhiệm vụ năm 2023 của Chương trình",
               "Kính gửi Tổng cục TĐC,\nSở KH&CN An Giang gửi báo cáo (đính kèm).\nTrân trọng.\n\n" + quoted,
               when, [docx_att("AG_2023.docx", docx_bytes(doc))])
    return Case("an-giang-reply-to-dispatch", msg.as_bytes(), "report", "an-giang", 2023, when,
                "a reply quoting the dispatch, with the report attached")


@case
def nghe_an_tcvn3() -> Case:
    when = utc(2023, 4, 5)  # late: arrival alone would say 2023
    doc = province_report("Nghệ An", "tỉnh", 2022, place="Vinh")
    msg = mail("vanthu.cctdc@gmail.com", "Bao cao NSCL", cover("Chi cuc"), when,
               [docx_att("NA-2022.docx", docx_bytes(doc, legacy="tcvn3"))])
    return Case("nghe-an-tcvn3", msg.as_bytes(), "report", "nghe-an", 2022, when,
                "document typed in TCVN3 (.VnTime); agency and year only in the document")


@case
def tra_vinh_vni() -> Case:
    when = utc(2024, 5, 2)  # late: arrival alone would say 2024
    doc = province_report("Trà Vinh", "tỉnh", 2023)
    msg = mail("phongqltdc@yahoo.com", "Gui bao cao", cover("Phong QL TDC"), when,
               [docx_att("TV-2023.docx", docx_bytes(doc, legacy="vni"))])
    return Case("tra-vinh-vni", msg.as_bytes(), "report", "tra-vinh", 2023, when,
                "document typed in VNI-Times; agency and year only in the document")


@case
def hue_2025_html_body() -> Case:
    when = utc(2025, 11, 24)
    doc = province_report("Huế", "thành phố", 2025)
    html = ("<html><body><p>Kính gửi Ủy ban TĐC,</p><p>Sở KH&amp;CN thành phố Huế gửi báo cáo.</p>"
            "<p>Trân trọng,</p><script>alert(1)</script></body></html>")
    msg = mail("skhcn@thuathienhue.gov.vn", "Báo cáo NSCL năm 2025", "", when,
               [docx_att("Hue-2025.docx", docx_bytes(doc))], html=html)
    return Case("hue-2025-html", msg.as_bytes(), "report", "hue", 2025, when,
                "HTML-only body; old Thừa Thiên Huế domain in 2025 -> Huế")


@case
def thua_thien_hue_2024() -> Case:
    when = utc(2025, 1, 8)
    doc = province_report("Thừa Thiên Huế", "tỉnh", 2024, place="Huế", date="06 tháng 01")
    doc.place_date = "Huế, ngày 06 tháng 01 năm 2025"
    msg = mail("skhcn@thuathienhue.gov.vn", "Báo cáo kết quả NSCL năm 2024", cover("Sở KH&CN"), when,
               [docx_att("TTH-2024.docx", docx_bytes(doc))])
    return Case("thua-thien-hue-2024", msg.as_bytes(), "report", "thua-thien-hue", 2024, when,
                "2024 report arriving January 2025: the old province still owes 2024")


@case
def quang_nam_2025() -> Case:
    when = utc(2025, 11, 27)
    doc = province_report("Quảng Nam", "tỉnh", 2025, place="Tam Kỳ")
    msg = mail("Chi cuc TDC <cctdc@quangnam.gov.vn>", "Báo cáo Chương trình NSCL 2025", cover("Chi cục TĐC"),
               when, [docx_att("QNam.docx", docx_bytes(doc))])
    return Case("quang-nam-2025", msg.as_bytes(), "report", "da-nang", 2025, when, "Quảng Nam -> Đà Nẵng in 2025")


@case
def late_no_year_doc_date() -> Case:
    when = utc(2025, 3, 12)
    doc = province_report("Sơn La", "tỉnh", 2024, date="05 tháng 3",
                          title=f"Kết quả thực hiện {PROGRAMME} trên địa bàn tỉnh Sơn La", closing_year=False)
    doc.place_date = "Sơn La, ngày 05 tháng 3 năm 2025"
    doc.grounds = ["Căn cứ Quyết định số 1322/QĐ-TTg ngày 31/8/2020 của Thủ tướng Chính phủ;"]
    doc.sections = [(h, [p.replace("Trong năm 2024, ", "") for p in ps]) for h, ps in doc.sections[:2]]
    msg = mail("skhcn@sonla.gov.vn", "Báo cáo Chương trình NSCL", cover("Sở KH&CN Sơn La"), when,
               [docx_att("SL.docx", docx_bytes(doc))])
    return Case("son-la-late-doc-date", msg.as_bytes(), "report", "son-la", 2024, when,
                "no year in any title: the document date (March 2025) means the 2024 report")


@case
def subject_typo_doc_wins() -> Case:
    when = utc(2024, 11, 20)
    doc = province_report("Bắc Ninh", "tỉnh", 2024)
    msg = mail("skhcn@bacninh.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2023",
               cover("Sở KH&CN Bắc Ninh"), when, [docx_att("BN.docx", docx_bytes(doc))])
    return Case("bac-ninh-subject-typo", msg.as_bytes(), "report", "bac-ninh", 2024, when,
                "subject copied from last year; the document title says 2024")


@case
def phu_yen_text_pdf() -> Case:
    when = utc(2024, 11, 26)
    doc = province_report("Phú Yên", "tỉnh", 2024, place="Tuy Hòa")
    msg = mail("vanthu.skhcn@gmail.com", "Báo cáo năng suất chất lượng",
               "Kính gửi,\nGửi báo cáo năm nay.\nTrân trọng", when,
               [("PhuYen.pdf", "application/pdf", text_pdf(doc.lines()))])
    return Case("phu-yen-text-pdf", msg.as_bytes(), "report", "phu-yen", 2024, when, "text PDF from a gmail sender")


@case
def hoa_binh_peace() -> Case:
    when = utc(2023, 11, 28)
    doc = province_report("Hòa Bình", "tỉnh", 2023)
    msg = mail("skhcn@hoabinh.gov.vn", "Báo cáo NSCL năm 2023",
               "Kính gửi,\nVì một thế giới hòa bình và phát triển bền vững, Sở gửi báo cáo.\nTrân trọng",
               when, [docx_att("HB.docx", docx_bytes(doc))])
    return Case("hoa-binh-official", msg.as_bytes(), "report", "hoa-binh", 2023, when, "Hòa Bình from its domain")


@case
def ninh_binh_mentions_hoa_binh_lowercase() -> Case:
    when = utc(2023, 11, 28)
    doc = province_report("Ninh Bình", "tỉnh", 2023, extra=[
        "Doanh nghiệp hoạt động trong môi trường hòa bình, ổn định; hợp tác với thái bình dương group."])
    msg = mail("nb.tdc@yahoo.com.vn", "Báo cáo NSCL năm 2023",
               "Kính gửi,\nChi cục TĐC Ninh Bình gửi báo cáo.\nTrân trọng,\nChi cục TĐC Ninh Bình",
               when, [docx_att("NB.docx", docx_bytes(doc))])
    return Case("ninh-binh-lowercase-hoa-binh", msg.as_bytes(), "report", "ninh-binh", 2023, when,
                "lower-case 'hòa bình' (peace) is not the province")


# ---------------------------------------------------------------- not reports

@case
def hai_phong_call_for_proposals() -> Case:
    when = utc(2023, 4, 18)
    text = HAI_PHONG_NOTICE
    msg = mail("Sở Công Thương Hải Phòng <soct@haiphong.gov.vn>",
               "Thông tin về đề xuất nhiệm vụ KH&CN cấp quốc gia thuộc Chương trình năng suất chất lượng",
               text, when)
    return Case("hai-phong-call-for-proposals", msg.as_bytes(), "other", "hai-phong", None, when,
                "a call for proposals is not a report")


@case
def dispatch_forwarded_back() -> Case:
    when = utc(2023, 11, 20)
    text = DISPATCH_4258
    body = ("Kính gửi Tổng cục,\nSở xin hỏi biểu mẫu kèm công văn dưới đây.\n\n"
            "---------- Forwarded message ---------\nFrom: TĐC <vanthu@tcvn.gov.vn>\n"
            "Subject: V/v báo cáo kết quả thực hiện nhiệm vụ năm 2023\n\n" + text)
    msg = mail("skhcn@binhphuoc.gov.vn", "Fwd: V/v báo cáo kết quả thực hiện nhiệm vụ năm 2023 của Chương trình",
               body, when)
    return Case("dispatch-forwarded-back", msg.as_bytes(), "other", "binh-phuoc", None, when,
                "the ministry's own request, forwarded back with a question")


@case
def dispatch_as_attachment_gmail() -> Case:
    when = utc(2023, 11, 21)
    text = DISPATCH_4258
    msg = mail("abc.nguyen@gmail.com", "Fw: Cong van 4258/BKHCN-TDC", "Gui anh cong van.", when,
               [docx_att("4258-BKHCN-TDC.docx", plain_docx(text.splitlines()))])
    return Case("dispatch-as-attachment", msg.as_bytes(), "other", None, None, when,
                "the dispatch itself as an attachment")


@case
def auto_reply_vietnamese() -> Case:
    when = utc(2024, 11, 26)
    msg = mail("skhcn@daklak.gov.vn", "Trả lời tự động: Nhắc gửi báo cáo NSCL năm 2024",
               "Tôi đang đi công tác đến hết ngày 30/11/2024. Việc gấp xin liên hệ 0262 3852 xxx.", when,
               headers={"Auto-Submitted": "auto-replied"})
    return Case("auto-reply-vi", msg.as_bytes(), "auto_reply", "dak-lak", None, when, "Vietnamese auto-reply")


@case
def auto_reply_english() -> Case:
    when = utc(2024, 11, 26)
    msg = mail("john.tran@gmail.com", "Automatic reply: Báo cáo kết quả NSCL năm 2024",
               "I am out of the office until 2 December.", when,
               headers={"X-Auto-Response-Suppress": "All"})
    return Case("auto-reply-en", msg.as_bytes(), "auto_reply", None, None, when, "English out-of-office")


@case
def bounce_dsn() -> Case:
    when = utc(2024, 11, 27)
    raw = f"""From: Mail Delivery System <MAILER-DAEMON@mx.tcvn.gov.vn>
To: {BOT}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(when)}
Message-ID: <dsn.1.corpus@example.test>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"

--dsn-b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Không gửi được thư tới skhcn@sokhongton.gov.vn: Host not found.

--dsn-b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.tcvn.gov.vn

Final-Recipient: rfc822; skhcn@sokhongton.gov.vn
Action: failed
Status: 5.1.2

--dsn-b
Content-Type: text/rfc822-headers

From: {BOT}
To: skhcn@sokhongton.gov.vn
Subject: =?utf-8?q?Nh=E1=BA=AFc_g=E1=BB=ADi_b=C3=A1o_c=C3=A1o_NSCL_n=C4=83m_2024?=

--dsn-b--
""".replace("\n", "\r\n").encode("utf-8")
    return Case("bounce-dsn", raw, "bounce", None, None, when, "delivery status notification")


@case
def newsletter() -> Case:
    when = utc(2024, 10, 5)
    msg = mail("Bản tin NSCL <bantin@nscl.gov.vn>", "Bản tin Năng suất Chất lượng số 10/2024",
               "Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng: "
               "báo cáo kết quả năm 2023 của các địa phương đã được tổng hợp...", when,
               headers={"List-Id": "Ban tin NSCL <bantin.nscl.gov.vn>",
                        "List-Unsubscribe": "<mailto:unsub@nscl.gov.vn>"})
    return Case("newsletter", msg.as_bytes(), "list", None, None, when,
                "mailing-list newsletter: stored as list mail (issue 20)")


@case
def invitation() -> Case:
    when = utc(2024, 9, 10)
    doc = plain_docx(["BỘ KHOA HỌC VÀ CÔNG NGHỆ", "GIẤY MỜI",
                      "Hội thảo đánh giá kết quả thực hiện Chương trình năng suất chất lượng năm 2024",
                      "Kính mời đại diện Sở KH&CN các tỉnh tới dự."])
    msg = mail("hoithao@tcvn.gov.vn", "Giấy mời dự Hội thảo năng suất chất lượng 2024",
               "Kính mời quý đơn vị tham dự hội thảo (giấy mời đính kèm).", when,
               [docx_att("GiayMoi.docx", doc)])
    return Case("invitation", msg.as_bytes(), "other", None, None, when, "an invitation is not a report")


@case
def received_reply() -> Case:
    when = utc(2024, 11, 26)
    msg = mail("skhcn@tayninh.gov.vn", "Re: Báo cáo kết quả thực hiện Chương trình NSCL năm 2024",
               "Đã nhận, cảm ơn anh chị.\n\n> Ủy ban TĐC đã nhận báo cáo của quý Sở.", when)
    return Case("received-reply", msg.as_bytes(), "other", "tay-ninh", None, when, "a 'đã nhận' reply, no report")


@case
def empty_message() -> Case:
    when = utc(2024, 11, 26)
    msg = mail("someone@example.com", "", "", when)
    return Case("empty", msg.as_bytes(), "other", None, None, when, "empty message is never a report")


@case
def registration() -> Case:
    when = utc(2023, 4, 20)
    msg = mail("Công ty TNHH Cơ khí Hải An <info@cokhihaian.com.vn>",
               "Đăng ký tham gia Chương trình năng suất chất lượng",
               "Kính gửi Chi cục TĐC Hải Phòng,\nCông ty xin đăng ký tham gia Chương trình (phụ lục đính kèm).",
               when, [docx_att("DangKy.docx", plain_docx(["PHIẾU ĐĂNG KÝ THAM GIA", "Chương trình NSCL"]))])
    return Case("registration", msg.as_bytes(), "other", None, None, when, "company registration")


@case
def provincial_plan() -> Case:
    when = utc(2025, 4, 10)
    doc = plain_docx(["UBND TỈNH NGHỆ AN", "KẾ HOẠCH",
                      f"Triển khai {PROGRAMME} năm 2025 trên địa bàn tỉnh Nghệ An",
                      "I. MỤC ĐÍCH, YÊU CẦU", "Triển khai các nhiệm vụ năng suất chất lượng năm 2025." * 8])
    msg = mail("skhcn@nghean.gov.vn", "Kế hoạch triển khai Chương trình NSCL năm 2025",
               "Sở gửi Kế hoạch để Ủy ban biết.", when, [docx_att("KH-2025.docx", doc)])
    return Case("provincial-plan", msg.as_bytes(), "other", "nghe-an", None, when, "a plan is not a results report")


@case
def other_programme_report() -> Case:
    when = utc(2024, 11, 20)
    doc = plain_docx(["UBND TỈNH GIA LAI", "SỞ THÔNG TIN VÀ TRUYỀN THÔNG", "BÁO CÁO",
                      "Kết quả thực hiện Chương trình chuyển đổi số năm 2024 trên địa bàn tỉnh Gia Lai",
                      "I. Kết quả triển khai", "Hạ tầng số, chính quyền số, kinh tế số được đẩy mạnh. " * 12])
    msg = mail("stttt@gialai.gov.vn", "Báo cáo chuyển đổi số năm 2024", "Gửi nhầm địa chỉ, xin bỏ qua.",
               when, [docx_att("CDS-2024.docx", doc)])
    return Case("other-programme-report", msg.as_bytes(), "other", "gia-lai", None, when,
                "a results report of a different programme")


def _other_programme_doc(issuer_top: str, issuer_unit: str, place: str, title: str, grounds: list[str],
                         facts: list[str]) -> bytes:
    """A results report shaped like ours (header, BÁO CÁO, Kính gửi, grounds, I/II/III) about another programme."""
    lines = [issuer_top, issuer_unit, "Số: 301/BC-SKHCN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
             "Độc lập - Tự do - Hạnh phúc", f"{place}, ngày 22 tháng 11 năm 2024", "BÁO CÁO", title,
             "Kính gửi: Bộ Khoa học và Công nghệ;", *grounds, "I. Kết quả triển khai", *facts,
             "II. Đánh giá, nhận xét", "Hoàn thành các nhiệm vụ đề ra; kinh phí còn hạn chế.",
             "III. Phương hướng năm 2025", "Tiếp tục hỗ trợ doanh nghiệp nâng cao năng suất, chất lượng.",
             "Nơi nhận:", "- Như trên;", "GIÁM ĐỐC"]
    return plain_docx([ln for ln in lines if ln])


@case
def de_an_996_measurement() -> Case:
    when = utc(2024, 11, 22)
    doc = _other_programme_doc(
        "UBND TỈNH BẾN TRE", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "Bến Tre",
        "Kết quả thực hiện Đề án “Tăng cường, đổi mới hoạt động đo lường hỗ trợ doanh nghiệp Việt Nam nâng cao "
        "năng lực cạnh tranh và hội nhập quốc tế giai đoạn đến năm 2025, định hướng đến năm 2030” năm 2024",
        ["Căn cứ Quyết định số 996/QĐ-TTg ngày 10/8/2018 của Thủ tướng Chính phủ;",
         "Thực hiện Công văn số 3120/BKHCN-TĐC của Bộ Khoa học và Công nghệ về việc báo cáo Đề án 996;"],
        ["Kiểm định 1.250 phương tiện đo; hỗ trợ 12 doanh nghiệp nâng cao năng suất, chất lượng nhờ đo lường "
         "chính xác; lồng ghép với Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng "
         "sản phẩm, hàng hóa (Chương trình 1322). " * 4])
    msg = mail("Sở KH&CN Bến Tre <skhcn@bentre.gov.vn>", "Báo cáo kết quả thực hiện Đề án 996 năm 2024",
               "Kính gửi Ủy ban TĐC,\nSở KH&CN Bến Tre gửi báo cáo kết quả năm 2024 (đính kèm).\nTrân trọng.",
               when, [docx_att("BC De an 996 nam 2024.docx", doc)])
    return Case("de-an-996", msg.as_bytes(), "other", "ben-tre", None, when,
                "Đề án 996 on measurement: mentions năng suất, chất lượng and 1322 in passing")


@case
def intellectual_property_programme() -> Case:
    when = utc(2024, 11, 26)
    doc = _other_programme_doc(
        "UBND TỈNH LONG AN", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "Long An",
        "Kết quả thực hiện Chương trình phát triển tài sản trí tuệ trên địa bàn tỉnh Long An năm 2024",
        ["Căn cứ Quyết định số 1068/QĐ-TTg ngày 22/8/2019 của Thủ tướng Chính phủ;"],
        ["Hỗ trợ 20 doanh nghiệp đăng ký nhãn hiệu, nâng cao chất lượng và năng suất sản phẩm đặc sản. " * 5])
    msg = mail("skhcn@longan.gov.vn", "Báo cáo kết quả Chương trình tài sản trí tuệ năm 2024",
               cover("Sở KH&CN tỉnh Long An", 2024), when, [docx_att("BC-SHTT-2024.docx", doc)])
    return Case("ip-programme", msg.as_bytes(), "other", "long-an", None, when,
                "the intellectual-property programme, not Program 1322")


@case
def digital_transformation_from_dost() -> Case:
    when = utc(2024, 11, 27)
    doc = _other_programme_doc(
        "UBND TỈNH ĐỒNG THÁP", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "Cao Lãnh",
        "Kết quả thực hiện nhiệm vụ chuyển đổi số hỗ trợ doanh nghiệp nâng cao năng suất, chất lượng năm 2024",
        ["Căn cứ Kế hoạch số 88/KH-UBND về chuyển đổi số tỉnh Đồng Tháp năm 2024;"],
        ["Triển khai nền tảng số cho 30 doanh nghiệp, giúp nâng cao năng suất chất lượng. " * 6])
    msg = mail("skhcn@dongthap.gov.vn", "Báo cáo kết quả chuyển đổi số năm 2024 (NSCL)",
               cover("Sở KH&CN Đồng Tháp", 2024), when, [docx_att("CDS-DT-2024.docx", doc)])
    return Case("digital-transformation-dost", msg.as_bytes(), "other", "dong-thap", None, when,
                "digital transformation report from the Sở KH&CN, mentioning năng suất chất lượng")


@case
def so_cong_thuong_own_plan() -> Case:
    when = utc(2024, 11, 25)
    doc = _other_programme_doc(
        "UBND TỈNH BÌNH DƯƠNG", "SỞ CÔNG THƯƠNG", "Bình Dương",
        "Kết quả thực hiện Kế hoạch nâng cao năng suất, chất lượng sản phẩm công nghiệp chủ lực năm 2024",
        ["Thực hiện Kế hoạch số 120/KH-SCT ngày 15/3/2024 của Sở Công Thương;",
         "Thực hiện Công văn số 4258/BKHCN-TĐC (tham khảo);"],
        ["Hỗ trợ 15 doanh nghiệp công nghiệp nâng cao năng suất và chất lượng sản phẩm. " * 6])
    msg = mail("sct@binhduong.gov.vn", "Báo cáo kết quả nâng cao năng suất chất lượng ngành công thương 2024",
               "Kính gửi,\nSở Công Thương gửi báo cáo (đính kèm).\nTrân trọng.", when,
               [docx_att("SCT-2024.docx", doc)])
    return Case("so-cong-thuong-plan", msg.as_bytes(), "other", "binh-duong", None, when,
                "a Sở Công Thương's own plan on productivity, not the national programme")


@case
def report_mentioning_other_programmes() -> Case:
    when = utc(2024, 11, 23)
    doc = province_report("Vĩnh Phúc", "tỉnh", 2024, extra=[
        "Lồng ghép với Đề án 996 về đo lường, Chương trình phát triển tài sản trí tuệ và nhiệm vụ chuyển đổi số "
        "của tỉnh để hỗ trợ 10 doanh nghiệp."])
    msg = mail("skhcn@vinhphuc.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2024 (lồng ghép Đề án 996)",
               cover("Sở KH&CN Vĩnh Phúc", 2024), when, [docx_att("VP-2024.docx", docx_bytes(doc))])
    return Case("report-mentions-other-programmes", msg.as_bytes(), "report", "vinh-phuc", 2024, when,
                "our report, citing other programmes it was combined with")


@case
def hau_giang_html_only_report() -> Case:
    when = utc(2024, 11, 26)
    doc = province_report("Hậu Giang", "tỉnh", 2024, place="Vị Thanh")
    html = "<html><body>" + "".join(
        f'<p class=MsoNormal><span style="font-size:13pt">{ln.replace("&", "&amp;")}</span></p>\r\n'
        for ln in doc.lines()) + "</body></html>"
    msg = mail("skhcn@haugiang.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2024", "", when, html=html)
    return Case("hau-giang-html-only-report", msg.as_bytes(), "report", "hau-giang", 2024, when,
                "the whole report as an HTML-only body, no attachment")


@case
def soc_trang_letters_layout() -> Case:
    when = utc(2024, 11, 27)
    doc = province_report("Sóc Trăng", "tỉnh", 2024, numbering="letters")
    msg = mail("skhcn@soctrang.gov.vn", "Báo cáo NSCL năm 2024", cover("Sở KH&CN Sóc Trăng", 2024), when,
               [docx_att("ST-2024.docx", docx_bytes(doc))])
    return Case("soc-trang-letters-layout", msg.as_bytes(), "report", "soc-trang", 2024, when,
                "sections laid out A/B/C instead of I/II/III")


@case
def bac_lieu_ocr_scan() -> Case:
    from tests.fixtures.documents import scanned_pdf as text_scan

    when = utc(2024, 11, 28)
    doc = province_report("Bạc Liêu", "tỉnh", 2024)
    msg = mail("skhcn@baclieu.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2024 (bản scan)",
               "Kính gửi Ủy ban TĐC,\nSở gửi bản scan báo cáo có chữ ký, đóng dấu.\nTrân trọng.", when,
               [("BL-scan.pdf", "application/pdf", text_scan(doc.lines()))])
    return Case("bac-lieu-ocr-scan", msg.as_bytes(), "report", "bac-lieu", 2024, when,
                "a scanned report with readable text (OCR)")


def build(dest: Path) -> list[tuple[Path, dict]]:
    """Write every case as NNN-name.eml plus labels.json; return (path, label) pairs."""
    return write_corpus(dest, CASES)


def write_corpus(dest: Path, makers: Iterable[Callable[[], Any]]) -> list[tuple[Path, dict]]:
    """Write each maker's case as NNN-name.eml plus labels.json (this corpus and tests.corpus.shapes)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, dict]] = []
    labels: dict[str, dict] = {}
    for number, make in enumerate(makers, start=1):
        c = make()
        path = dest / f"{number:03d}-{c.name}.eml"
        path.write_bytes(c.message)
        out.append((path, c.label()))
        labels[path.name] = c.label()
    (dest / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


if __name__ == "__main__":  # pragma: no cover
    for path, label in build(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus-out")):
        print(path.name, label["kind"], label["agency"], label["year"])
