"""The Vietnamese words for submission states: one table for the CLI, the emails and every document.

Kept in notifier (which renders every text a person reads); the workflow,
which owns the states themselves, imports it from here.
"""
from __future__ import annotations

import re

STATE_LABELS: dict[str, str] = {
    "missing": "chưa nộp",
    "received": "đã nhận",
    "acknowledged": "đã báo nhận",
    "needs_review": "cần xem xét",
    "resubmission_requested": "đề nghị gửi lại",
    "accepted": "đã chấp nhận",
    "exempt": "miễn báo cáo",
}
# Shown, never stored: an agency that owes but whose report may be waiting for a coordinator's confirmation.
SHOWN_STATE_LABELS: dict[str, str] = {**STATE_LABELS, "awaiting": "chờ xác nhận thư đã nhận"}


def state_label(state: str, capital: bool = False) -> str:
    """'acknowledged' -> 'đã báo nhận' ('Đã báo nhận' with capital=True, for table cells)."""
    text = STATE_LABELS.get(state, state)
    return text[:1].upper() + text[1:] if capital else text


# ---- audit events, jobs and run summaries, as a coordinator reads them ----
# The database and JSON keep the English names (stable for scripts); every human-readable
# output goes through these tables.

ACTION_LABELS: dict[str, str] = {
    "report_received": "nhận báo cáo",
    "superseded": "nhận phiên bản mới",
    "ack_queued": "đã xếp thư báo nhận",
    "flagged_for_review": "chuyển cán bộ xem xét",
    "accept": "chấp nhận",
    "request_resubmission": "đề nghị gửi lại",
    "exempt": "miễn báo cáo",
    "reopen": "mở lại",
    "assign": "xếp thư cho đơn vị",
    "detached": "tách thư sang đơn vị khác",
    "ack_resent": "gửi lại thư báo nhận",
    "address_learned": "ghi nhận địa chỉ gửi",
    "deadline_extended": "gia hạn",
    "message_assigned": "xếp thư",
    "message_detached": "tách thư",
    "on_time_recomputed": "tính lại đúng hạn",
    "quarantined": "cách ly",
    "junk_rescued": "đưa thư khỏi mục thư rác",
    "mail_dismissed": "đã xem, không phải báo cáo",
    "file_attached": "đính kèm tệp báo cáo",
    "report_recorded_by_hand": "ghi nhận báo cáo nhận ngoài email",
    "reminder_queued": "xếp thư nhắc",
    "report_unplaced": "chưa xếp được báo cáo",
    "unverified_claim": "thư chưa xác thực tự nhận là báo cáo của đơn vị",
    "accept_unverified": "chấp nhận thư chưa xác thực (đã kiểm tra)",
    "version_chosen": "chọn phiên bản hiện hành",
    "ack_withheld": "không gửi thư báo nhận",
    "duplicate_delivery": "thư nhận trùng",
    "bounce_unmatched": "thư báo lỗi gửi không khớp địa chỉ nào",
    "contact_bounced": "địa chỉ liên hệ bị trả lại",
    "reminder_reply": "đơn vị trả lời thư nhắc",
    "contact_added": "thêm liên hệ",
    "contact_updated": "sửa liên hệ",
    "contact_confirmed": "xác nhận liên hệ",
    "contact_removed": "xóa liên hệ",
    "contact_learned": "ghi nhận liên hệ từ thư đã xếp",
    "contact_carried_over": "chuyển liên hệ từ đơn vị sáp nhập",
    "transition": "đổi trạng thái",
}
ACTOR_LABELS: dict[str, str] = {"bot": "hệ thống"}
JOB_LABELS: dict[str, str] = {
    "intake": "nhận thư",
    "outbox": "gửi thư",
    "reminders": "nhắc hạn",
    "digest": "bản tổng hợp",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace("_", " "))


def actor_label(actor: str) -> str:
    return ACTOR_LABELS.get(actor, actor)


_STAGE = re.compile(r"\b(?:d-(\d+)|d0|late\+(\d+))(?![\w+-])")
_DEDUPE_KEY = re.compile(r"\b(ack|reminder|resubmission|digest):[\w.:+-]+")
_REPR_FIELD = re.compile(r"\b([a-z_]+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|None|True|False|-?\d+)")
# The outbox (outbox_emails.state, .kind) and contacts.source ("suggested" is shown, never stored), as a
# coordinator reads them on the command line and the board.
EMAIL_KIND_LABELS: dict[str, str] = {"ack": "thư báo nhận", "reminder": "thư nhắc nộp",
                                     "resubmission": "thư đề nghị gửi lại", "digest": "bản tin tổng hợp"}
CONTACT_SOURCE_LABELS: dict[str, str] = {
    "imported": "nhập từ bảng", "coordinator": "điều phối viên thêm", "learned": "học từ thư đã xếp",
    "carried over": "chuyển từ đơn vị sáp nhập", "suggested": "gợi ý (người gửi báo cáo, chưa xác nhận)",
}
CONTACT_FIELD_LABELS: dict[str, str] = {
    "name": "họ tên", "role": "vai trò", "phone": "điện thoại", "unit": "đơn vị nhận", "from_year": "từ năm",
    "until_year": "đến năm", "confirmed": "đã xác nhận", "source": "nguồn",
}
OUTBOX_STATE_LABELS: dict[str, str] = {
    "pending": "chờ gửi", "sending": "đang gửi", "sent": "đã gửi", "failed": "gửi lỗi",
    "suppressed": "không gửi (vượt giới hạn mỗi ngày, hoặc chờ cán bộ kiểm tra)",
    "held": "giữ lại (vượt giới hạn thư báo nhận mỗi giờ cho người gửi chưa xác thực)",
}


def stage_label(name: str) -> str:
    """A reminder stage as a coordinator says it: 'd-14' -> '14 ngày trước hạn', 'late+3' -> 'quá hạn 3 ngày'."""
    match = _STAGE.fullmatch(name.strip())
    if match is None:
        return name
    before, after = match.groups()
    return f"{before} ngày trước hạn" if before else f"quá hạn {after} ngày" if after else "ngày hết hạn"


def _dedupe_words(match: re.Match[str]) -> str:
    """'reminder:tay-ninh:2024:d-14' -> 'thư nhắc nộp (14 ngày trước hạn)'; 'ack:12' -> 'thư báo nhận cho thư #12'.

    The kind is left out when the text just said it ("thư báo nhận ack:12").
    """
    kind, parts = match.group(1), match.group(0).split(":")
    before = match.string[:match.start()].rstrip()
    said = before.endswith(("thư báo nhận", "thư nhắc", "thư nhắc nộp"))
    label = "" if said else EMAIL_KIND_LABELS[kind].removeprefix("thư " if before.endswith("thư") else "")
    if kind == "reminder" and len(parts) >= 4:
        return f"{label} ({stage_label(parts[3])})".strip()
    if kind == "ack" and len(parts) >= 2 and parts[1].isdigit():
        again = f", lần gửi lại {parts[3]}" if len(parts) >= 4 and parts[2] == "resend" else ""
        return f"{label} cho thư #{parts[1]}{again}".strip()
    return label or EMAIL_KIND_LABELS[kind]


def _field_words(match: re.Match[str]) -> str:
    key, value = match.groups()
    value = {"None": "(trống)", "True": "có", "False": "không"}.get(value, value.strip("'\""))
    if key == "source":
        value = CONTACT_SOURCE_LABELS.get(value, value)
    return f"{CONTACT_FIELD_LABELS.get(key, key.replace('_', ' '))}: {value}"


def outbox_key_words(text: str) -> str:
    """Outbox keys in a text ('đã xếp thư resubmission:tay-ninh:2024:5') as words ('đã xếp thư đề nghị gửi lại')."""
    return _DEDUPE_KEY.sub(_dedupe_words, text)


def audit_reason(action: str, reason: str | None) -> str:
    """An audit line's reason as a coordinator reads it: no outbox keys, stage codes or Python values.

    The stored text stays as written (scripts and old rows keep it); every view
    that shows it to a person goes through here.
    """
    text = outbox_key_words(reason or "")
    if action == "reminder_queued":
        text = _STAGE.sub(lambda m: stage_label(m.group(0)), text, count=1).replace("; cc ", "; đồng gửi ")
    if action.startswith("contact_"):
        text = _REPR_FIELD.sub(_field_words, text)
        text = re.sub(r"\((" + "|".join(map(re.escape, CONTACT_SOURCE_LABELS)) + r")(?=[,)])",
                      lambda m: "(" + CONTACT_SOURCE_LABELS[m.group(1)], text)
    if action == "junk_rescued":
        text = re.sub(r"đọc lại: ([a-z_]+)$", lambda m: f"đọc lại: {kind_label(m.group(1))}", text)
    return text


def flush_summary(sent: int, failed: int, retried: int, suppressed: int = 0, stopped: str | None = None,
                  held: int = 0) -> str:
    """One outbox run in words: 'đã gửi 3, lỗi 0, chờ gửi lại 1'."""
    text = f"đã gửi {sent}, lỗi {failed}, chờ gửi lại {retried}"
    if suppressed:
        text += f", không gửi (giới hạn) {suppressed}"
    if held:
        text += f", giữ lại (giới hạn mỗi giờ) {held}"
    return text + (f"; dừng sớm: {stopped}" if stopped else "")


# English words of run summaries stored by older versions -> Vietnamese, longest first.
_SUMMARY_WORDS: tuple[tuple[str, str], ...] = (
    ("no coordinators configured (coordinators.emails): digest built, nothing queued",
     "chưa khai báo cán bộ đầu mối (coordinators.emails): đã lập bản tin, chưa xếp gửi"),
    ("already queued today", "hôm nay đã xếp gửi"),
    ("marked after restart", "đánh dấu sau khởi động lại"), ("acks queued", "thư báo nhận đã xếp"),
    ("stopped early", "dừng sớm"), ("without address", "không có địa chỉ"),
    ("no campaign season open", "không có mùa báo cáo đang mở"),
    ("database unavailable", "không kết nối được cơ sở dữ liệu"),
    ("not queued", "chưa xếp"), ("dry run", "chạy thử"), ("duplicates", "trùng"), ("quarantined", "cách ly"),
    ("recorded", "đã ghi"), ("fetched", "đã lấy"), ("ignored", "bỏ qua"), ("queued", "đã xếp"), ("junk", "thư rác"),
    ("read later", "đọc tệp sau"),
    ("due", "đến hạn"), ("digest", "bản tổng hợp"), ("year", "năm"),
)
_FLUSH_REPR = re.compile(r"FlushResult\(sent=(\d+), failed=(\d+), retried=(\d+), suppressed=(\d+), "
                         r"stopped=(None|'[^']*'|\"[^\"]*\")\)")


# A job's result is stored as JSON ({"kind": …, counts…}); these render it. Older rows hold English text.
_INTAKE_WORDS = (("fetched", "đã lấy"), ("recorded", "đã ghi"), ("duplicates", "trùng"), ("quarantined", "cách ly"),
                 ("ignored", "bỏ qua"), ("junk", "thư rác"), ("read_later", "đọc tệp sau"),
                 ("acks_queued", "thư báo nhận đã xếp"), ("marked_late", "đánh dấu sau khởi động lại"))


def intake_summary(data: dict) -> str:
    """One intake cycle in words: 'đã lấy 3, đã ghi 2, trùng 1, …; dừng sớm: …'."""
    parts = [f"{word} {int(data.get(key) or 0)}" for key, word in _INTAKE_WORDS
             if key in ("fetched", "recorded", "duplicates", "quarantined", "ignored", "acks_queued") or data.get(key)]
    text = ", ".join(parts)
    return text + (f"; dừng sớm: {data['stopped']}" if data.get("stopped") else "")


def reminder_summary(data: dict) -> str:
    text = (f"năm {data.get('year')}: {data.get('due', 0)} thư đến hạn, đã xếp {data.get('queued', 0)}, "
            f"{data.get('no_address', 0)} đơn vị không có địa chỉ")
    return text + (" (chạy thử)" if data.get("dry_run") else "")


def digest_summary(data: dict) -> str:
    return (f"bản tổng hợp ngày {data.get('date', '')} (năm {data.get('year')}): "
            f"{data.get('note') or ('đã xếp gửi' if data.get('queued') else 'chưa xếp gửi')}")


def job_summary(result: str) -> str:
    """A stored job result in Vietnamese: no Python repr, no English words."""
    if (result or "").startswith("{"):
        import json

        try:
            data = json.loads(result)
        except ValueError:
            data = None
        if isinstance(data, dict):
            kind = data.get("kind")
            if kind == "intake":
                return intake_summary(data)
            if kind == "outbox":
                return flush_summary(int(data.get("sent", 0)), int(data.get("failed", 0)), int(data.get("retried", 0)),
                                     int(data.get("suppressed", 0)), data.get("stopped"), int(data.get("held", 0)))
            if kind == "reminders":
                return reminder_summary(data)
            if kind == "digest":
                return digest_summary(data)
            if kind == "error":
                return f"lỗi: {data.get('error', '')}"
            if kind == "idle":
                return str(data.get("note", ""))
    match = _FLUSH_REPR.search(result or "")
    if match:
        stopped = None if match.group(5) == "None" else match.group(5)[1:-1]
        return flush_summary(int(match.group(1)), int(match.group(2)), int(match.group(3)), int(match.group(4)),
                             stopped)
    text = result or ""
    for english, vietnamese in _SUMMARY_WORDS:
        text = re.sub(rf"(?<![\w.]){re.escape(english)}(?![\w.])", vietnamese, text)
    return text


def job_line(name: str, day: str, ok: bool, result: str) -> str:
    """'Việc gửi thư: 28/11/2024 · bình thường · đã gửi 3, lỗi 0, chờ gửi lại 0'."""
    state = "bình thường" if ok else "LỖI"
    return f"Việc {JOB_LABELS.get(name, name)}: {day} · {state} · {job_summary(result)}"


# What a stored message is (messages.status, messages.kind), as a coordinator reads it: one table for the
# command line, the board and the documents.
MESSAGE_STATUS_LABELS: dict[str, str] = {
    "recorded": "đã ghi nhận", "ignored": "bỏ qua (thư tự động)", "junk": "thư rác", "quarantined": "cách ly",
}
MESSAGE_KIND_LABELS: dict[str, str] = {
    "report": "báo cáo", "periodic": "báo cáo định kỳ (6 tháng, quý)", "other": "thư khác", "spam": "thư rác",
    "bounce": "thư báo lỗi gửi", "complaint": "báo cáo khiếu nại", "receipt": "thông báo đã đọc",
    "auto_reply": "thư trả lời tự động", "list": "thư từ danh sách thư", "notice": "thông báo tự động",
    "newsletter": "bản tin, thư gửi hàng loạt",
}


def kind_label(kind: str | None) -> str:
    return MESSAGE_KIND_LABELS.get(kind or "", kind or "chưa phân loại")


def status_label(status: str | None) -> str:
    return MESSAGE_STATUS_LABELS.get(status or "", status or "")


def days_left(n: int | None) -> str:
    """Days to a deadline in words: 'còn 3 ngày', 'hạn cuối hôm nay', 'quá hạn 5 ngày' (never a negative number)."""
    if n is None:
        return ""
    return f"còn {n} ngày" if n > 0 else ("hạn cuối hôm nay" if n == 0 else f"quá hạn {-n} ngày")


AGENCY_KIND_LABELS: dict[str, str] = {"province": "tỉnh/thành phố", "ministry": "bộ, ngành"}


def agency_kind_label(kind: str) -> str:
    return AGENCY_KIND_LABELS.get(kind, kind)


def outbox_state_label(state: str) -> str:
    return OUTBOX_STATE_LABELS.get(state, state)


def email_kind_label(kind: str) -> str:
    return EMAIL_KIND_LABELS.get(kind, kind)


def contact_source_label(source: str) -> str:
    return CONTACT_SOURCE_LABELS.get(source, source)


# --- what intake noted about a message, as a coordinator reads it -------------------------------------
# Intake stores its findings in a stable technical form (tests, logs and the quarantine key on them);
# the board and `show` word them here. A note no pattern knows is shown as stored.
_FORWARD = re.compile(r"^forward: ")
_PART = re.compile(r"^part (\d+(?:\.(?:\d+|fwd))*)")
_HEADER = re.compile(r"^([a-z][a-z0-9-]*)(?=: )")
_NOTE_BODIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"no charset declared; decoded as (\S+)"), r"không khai báo bảng mã; đã đọc theo \1"),
    (re.compile(r"unknown charset (\S+); decoded as (\S+)"), r"bảng mã \1 không biết; đã đọc theo \2"),
    (re.compile(r"unknown charset (\S+); content is ASCII$"), r"bảng mã \1 không biết; nội dung là ASCII"),
    (re.compile(r"declared charset (\S+) does not fit; decoded as (\S+)"),
     r"bảng mã khai báo \1 không khớp; đã đọc theo \2"),
    (re.compile(r"declared charset (\S+) but content is (\S+)$"), r"khai báo bảng mã \1 nhưng nội dung là \2"),
    (re.compile(r"8-bit header decoded as (\S+)"), r"viết bằng byte 8-bit; đã đọc theo \1"),
    (re.compile(r"header of (\d+) characters cut to (\d+)$"), r"dài \1 ký tự, đã cắt còn \2"),
    (re.compile(r"multipart without usable boundary; read as plain text$"),
     "thư nhiều phần không có ranh giới dùng được; đã đọc như văn bản thường"),
    (re.compile(r"multipart boundary missing or wrong; recovered as (.+)$"),
     r"ranh giới các phần thiếu hoặc sai; đã khôi phục là \1"),
    (re.compile(r"nesting deeper than (\d+); not read further$"), r"lồng sâu quá \1 cấp; không đọc tiếp"),
    (re.compile(r"payload not decodable \((\w+)\)$"), r"nội dung không giải mã được (\1)"),
    (re.compile(r"forwarded message was ([\w-]+)-encoded; decoded$"), r"thư chuyển tiếp được mã hóa \1; đã giải mã"),
    (re.compile(r"encoded forwarded message not decodable$"), "thư chuyển tiếp được mã hóa nhưng không giải mã được"),
    (re.compile(r"forwarded message nested too deeply$"), "thư chuyển tiếp lồng quá sâu; không đọc tiếp"),
    (re.compile(r"empty forwarded message$"), "thư chuyển tiếp rỗng"),
    (re.compile(r"(\S+) body over (\d+) bytes skipped$"), r"bỏ qua nội dung \1 lớn hơn \2 byte"),
    (re.compile(r"attachment (.+) over (\d+) bytes skipped$"), r"bỏ qua tệp đính kèm \1 lớn hơn \2 byte"),
    (re.compile(r"more than (\d+) attachments; (.+) skipped$"), r"hơn \1 tệp đính kèm; bỏ qua \2"),
    (re.compile(r"invalid-date-syntax$"), "ngày gửi viết sai cú pháp"),
    (re.compile(r"weekday-mismatch$"), "thứ trong tuần không khớp với ngày"),
    (re.compile(r"invalid-time$"), "giờ gửi không hợp lệ"),
    (re.compile(r"invalid-zone$"), "múi giờ không hợp lệ"),
    (re.compile(r"address read by the tolerant second pass$"), "địa chỉ chỉ đọc được ở lượt đọc nới lỏng thứ hai"),
    (re.compile(r"several addresses, no single sender identity$"), "nhiều địa chỉ, không xác định được một người gửi"),
    (re.compile(r"no usable address$"), "không có địa chỉ dùng được"),
    (re.compile(r"^header (.+): obsolete space before ':' removed$"),
     r"tiêu đề \1: đã bỏ khoảng trắng thừa trước dấu ':'"),
    (re.compile(r"header line without leading whitespace joined to the previous header: (.+)$"),
     r"dòng tiêu đề thiếu khoảng trắng đầu dòng, đã nối vào tiêu đề trước: \1"),
    (re.compile(r"junk line before the headers dropped: (.+)$"), r"đã bỏ dòng rác trước phần tiêu đề: \1"),
    (re.compile(r"password-protected Office document \(EncryptedPackage\)$"),
     "tài liệu Office có mật khẩu (EncryptedPackage)"),
    (re.compile(r"contains macros \(not executed\)$"), "có macro (không chạy)"),
    (re.compile(r"(\d+) members, over the limit of (\d+)$"), r"\1 tệp bên trong, vượt giới hạn \2"),
    (re.compile(r"not a readable zip archive \((.*)\)$"), r"không đọc được tệp nén zip (\1)"),
    (re.compile(r"declares (\d+) uncompressed bytes, over (\d+)$"), r"khai báo \1 byte khi giải nén, vượt \2"),
    (re.compile(r"declares (\d+) bytes, over (\d+)$"), r"khai báo \1 byte, vượt \2"),
    (re.compile(r"(?:real )?compression ratio (\d+), over (\S+)$"), r"tỉ lệ nén \1, vượt \2"),
    (re.compile(r"stopped: total decompressed size over (\d+)$"), r"dừng kiểm tra: tổng dung lượng giải nén vượt \1"),
    (re.compile(r"archive nested deeper than (\d+)$"), r"tệp nén lồng sâu quá \1 cấp"),
    (re.compile(r"encrypted member$"), "tệp bên trong có mật khẩu"),
    (re.compile(r"decompresses past the member limit$"), "giải nén vượt giới hạn cho một tệp"),
    (re.compile(r"decompresses past the total limit$"), "giải nén vượt giới hạn tổng"),
    (re.compile(r"unreadable \((.*)\)$"), r"không đọc được (\1)"),
    (re.compile(r"absolute path$"), "đường dẫn tuyệt đối"),
    (re.compile(r"'\.\.' in path$"), "đường dẫn có '..'"),
    (re.compile(r"([A-Z]\w*Defect)$"), r"lỗi cấu trúc MIME (\1)"),
)

def note_words(note: str) -> str:
    """One intake note in Vietnamese: 'part 2: no charset declared; decoded as cp1252' ->
    'phần 2: không khai báo bảng mã; đã đọc theo cp1252'."""
    head, rest = "", note
    while (match := _FORWARD.match(rest)) is not None:
        head, rest = head + "thư chuyển tiếp: ", rest[match.end():]
    if (match := _PART.match(rest)) is not None:
        head += "phần " + match.group(1).replace(".fwd", " (thư chuyển tiếp)")
        rest = rest[match.end():]
    elif (match := _HEADER.match(rest)) is not None:
        head += "tiêu đề " + "-".join(w.capitalize() for w in match.group(1).split("-"))
        rest = rest[match.end():]
    rest = rest.replace(" with replacement characters", " (có ký tự bị thay thế)")
    for pattern, words in _NOTE_BODIES:
        if (found := pattern.search(rest)) is not None:
            rest = rest[:found.start()] + found.expand(words) + rest[found.end():]
            break
    return head + rest
