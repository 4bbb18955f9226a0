"""Scan-to-email from an office copier (RICOH, Konica Minolta, Canon, Xerox …).

Why: a clerk scans the signed report on the office copier and has it mail the
PDF straight to us. The copier writes From its own mailbox
(``scanner@skhcn.tayninh.gov.vn``, display name "RICOH MP 3055"), a generic
subject ("Scanned from MFP", "Message from KM_C3350") and a machine body. The
report is the agency's (its domain says whose), but nobody reads the copier's
mailbox: an acknowledgement must go to an agency contact, and a coordinator
should know why. The copier is recognised by its name or mailbox, or by its
generic subject on a mail that carries a file.
"""
from __future__ import annotations

import re

from intake.model import Envelope
from reference.text import words

# Folded display names and mailbox names of copiers and scanners.
_DEVICE = re.compile(
    r"\b(ricoh|aficio|canon|imagerunner|ir ?adv(ance)?|konica|minolta|bizhub|kyocera|taskalfa|ecosys|sharp mx|"
    r"xerox|docucentre|apeos(port)?|fuji ?xerox|toshiba e ?studio|e ?studio|laserjet|officejet|brother mfc|"
    r"epson wf|mfp|km ?c\d{3,4}|skm ?c\d{3,4}|scanner|scan to (e ?)?mail|may (quet|scan|photo(copy)?)|photocopy)\b"
)
_DEVICE_LOCAL = re.compile(
    r"^(scan|scans|scanner|scanners|scan2mail|scantomail|scan2email|scantoemail|scan-to-email|mfp|copier|photocopy|"
    r"printer|maysc[a-z]*|mayphoto[a-z]*|ricoh|canon|xerox|konica|kyocera|sharp|toshiba)([-_.]?[a-z0-9]+)*$"
)
# Subjects the copier writes itself.
_GENERIC_SUBJECT = re.compile(
    r"^(scanned (from|image|document|file)|message from s?km ?c?\d+|scan(ned)? (data|image|file|from)|"
    r"scan to (e ?)?mail|attached image|image data has been attached|scan)( |$)"
)


def copier_sender(env: Envelope) -> str | None:
    """``"Name <address>"`` of the copier that sent this mail, or None when a person (or their client) did."""
    name, address = env.from_name or "", env.from_addr or ""
    local = address.partition("@")[0]
    device = bool(_DEVICE.search(words(name)) or _DEVICE_LOCAL.match(local))
    generic = bool(_GENERIC_SUBJECT.match(words(env.subject or ""))) and any(not a.inline for a in env.attachments)
    if not (device or generic):
        return None
    return f"{name} <{address}>" if name else address


def copier_reason(who: str) -> str:
    return (f"thư quét gửi từ máy photocopy/máy quét văn phòng ({who}): không phải hộp thư của cán bộ; "
            "đơn vị theo tên miền, xác nhận cần gửi tới cán bộ đầu mối của đơn vị")
