"""The words the board shows for stored codes and workflow messages, as units (the pages are in test_board_review)."""
from __future__ import annotations

import pytest

from interfaces.web.views import coordinator_words
from notifier.labels import audit_reason, stage_label
from reference.roster import initials, load_roster, run_together


@pytest.mark.parametrize(("action", "stored", "shown"), [
    ("reminder_queued", "d-14 → a@b.vn; cc c@d.vn", "14 ngày trước hạn → a@b.vn; đồng gửi c@d.vn"),
    ("reminder_queued", "late+3 → a@b.vn", "quá hạn 3 ngày → a@b.vn"),
    ("reminder_queued", "d0 → a@b.vn", "ngày hết hạn → a@b.vn"),
    ("ack_queued", "thư báo nhận ack:12", "thư báo nhận cho thư #12"),
    ("ack_resent", "gửi lại (ack:12:resend:2)", "gửi lại (thư báo nhận cho thư #12, lần gửi lại 2)"),
    ("reminder_reply", "trả lời thư nhắc reminder:tay-ninh:2024:d-7 từ x@y.vn",
     "trả lời thư nhắc (7 ngày trước hạn) từ x@y.vn"),
    ("contact_updated", "x@y.vn: name='Lan', until_year=None, confirmed=True",
     "x@y.vn: họ tên: Lan, đến năm: (trống), đã xác nhận: có"),
    ("contact_added", "x@y.vn (imported, đã xác nhận)", "x@y.vn (nhập từ bảng, đã xác nhận)"),
    ("junk_rescued", "cán bộ xác định không phải thư rác (SpamAssassin); đọc lại: report",
     "cán bộ xác định không phải thư rác (SpamAssassin); đọc lại: báo cáo"),
    ("accept", "chấp nhận báo cáo", "chấp nhận báo cáo"),  # words stay as they were
])
def test_audit_reasons_in_words(action: str, stored: str, shown: str) -> None:
    assert audit_reason(action, stored) == shown


def test_stage_names() -> None:
    assert [stage_label(s) for s in ("d-30", "d0", "late+7", "khác")] == [
        "30 ngày trước hạn", "ngày hết hạn", "quá hạn 7 ngày", "khác"]


@pytest.mark.parametrize(("message", "shown"), [
    ("Không thể chấp nhận báo cáo của Tỉnh Tây Ninh năm 2024: trạng thái hiện tại là 'chưa nộp' (missing). "
     "Cannot accept: nothing was received.",
     "Không thể chấp nhận báo cáo của Tỉnh Tây Ninh năm 2024: trạng thái hiện tại là 'chưa nộp'."),
    ("Không có đơn vị 'xyz' trong danh sách. Unknown agency 'xyz'. Có phải: ha-noi, ha-nam? "
     "(did you mean one of these?)", "Không có đơn vị 'xyz' trong danh sách. Có phải: ha-noi, ha-nam?"),
    ("Cần nêu lý do (--reason). exempt needs a reason.", "Cần nêu lý do."),
    ("Đề nghị gửi lại Tỉnh Tây Ninh năm 2024: đã báo nhận → đề nghị gửi lại; đã xếp thư resubmission:tay-ninh:2024:5",
     "Đề nghị gửi lại Tỉnh Tây Ninh năm 2024: đã báo nhận → đề nghị gửi lại; đã xếp thư đề nghị gửi lại"),
    ("Chấp nhận Tỉnh Tây Ninh năm 2024: đã nhận → đã chấp nhận; đã thêm a@b.vn vào danh bạ (learned)",
     "Chấp nhận Tỉnh Tây Ninh năm 2024: đã nhận → đã chấp nhận; đã thêm a@b.vn vào danh bạ"),
    ("Gửi về TP. HCM xong.", "Gửi về TP. HCM xong."),  # ASCII pieces of a Vietnamese sentence stay
    ("Đã xếp (thư #5). Xong (Long An).", "Đã xếp (thư #5). Xong (Long An)."),
    ("A không phải báo cáo năm 2025. 'a' owes no report for 2025. Báo cáo năm 2025 do 'b' gửi "
     "(reports for 2025 come from 'b').", "A không phải báo cáo năm 2025. Báo cáo năm 2025 do 'b' gửi."),
])
def test_flash_keeps_the_vietnamese_and_drops_the_english_gloss(message: str, shown: str) -> None:
    assert coordinator_words(message) == shown


def test_a_long_flash_is_cut_at_a_word() -> None:
    text = coordinator_words("Thư báo cáo " * 100)
    assert len(text) <= 600 and text.endswith("…") and text[:-1].split()[-1] in ("Thư", "báo", "cáo")


def test_short_forms_of_agency_names() -> None:
    assert run_together("TP. HCM") == run_together("tp hcm") == "tphcm"
    assert initials("Bà Rịa - Vũng Tàu") == "brvt" and initials("Huế") == ""
    roster = load_roster()
    assert [a.slug for a in roster.named("TP.HCM", 2024)] == ["ho-chi-minh"]
    assert [a.slug for a in roster.named("hcm", 2024)] == ["ho-chi-minh"]  # written in full beats initials
    assert sorted(a.slug for a in roster.named("hn", 2024)) == ["ha-nam", "ha-noi"]  # shared: both, to choose
    assert roster.named("x", 2024) == [] and roster.named("", 2024) == []
    hue = roster.get("thua-thien-hue", 2024)
    assert hue.named_by("hue") and hue.named_by("Thừa Thiên") and not hue.named_by("ha noi")
