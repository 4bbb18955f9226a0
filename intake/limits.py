"""Size and shape limits applied to untrusted mail before anyone reads it.

One frozen object so the config file can map onto it and every stage that
opens sender-controlled data (parser, container checks, document readers)
agrees on the same bounds.
"""
from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds for one message and what it carries.

    Defaults sit above what a provincial report realistically needs (a
    report with annexes and scans is a few MiB; the largest public mailbox
    quotas stop at 50 MiB) and well below what would hurt the daemon.
    """

    max_message_bytes: int = 60 * MiB
    max_part_bytes: int = 55 * MiB
    max_attachments: int = 50
    max_header_chars: int = 20_000  # longer decoded header values are cut, with a defect
    max_nesting_depth: int = 12
    zip_max_members: int = 500
    zip_max_total_bytes: int = 200 * MiB
    zip_max_ratio: float = 100.0
    zip_max_member_bytes: int = 100 * MiB
    zip_max_nesting: int = 2  # zip inside zip inside zip is already suspicious
    # One budget per message, across all its parts, attachments and zip members (see
    # intake.precheck and intake.documents.sandbox). A report needs seconds and tens of MiB.
    message_seconds: float = 60.0  # wall time for reading all of a message's documents (and OCR)
    message_memory_bytes: int = 512 * MiB  # address space of the process that reads them
    max_parts: int = 1_000  # MIME parts, counted in the raw bytes before the parser runs
    max_header_lines: int = 5_000  # header lines of the message and all its parts, likewise
    # The stdlib parser's work on MIME headers that grows faster than the message, in characters read (≈ 1 ns
    # each): a header's parameters (length × its ";"), a multipart's Content-Type again for every child, and the
    # pattern it compiles from each boundary (2,500 a character). Counted by intake.precheck; real mail stays
    # under 10⁷, the time bombs it stops start at 10¹⁰.
    max_mime_header_work: int = 500_000_000
    # Multiparts open at once (nested): the parser tests every line against each one's delimiter, the precheck
    # searches for each. Real mail nests 4 deep; a 40-deep one is still read (in part).
    max_open_multiparts: int = 64
    # Body lines the parser reads, each counted once plus once for every open delimiter it is tested against: the
    # parser keeps every body line as a string (≈ 90 MB and 1.5 s a million; base64 attachments are set aside by
    # intake.message.large_bodies, but counted here). A 57 MB 8-bit CSV attachment is 5 M; 58 MB of empty lines is 29 M.
    max_body_line_checks: int = 10_000_000
    max_pixels: int = 25_000_000  # one rendered page or image given to OCR (A4 at 200 dpi: 3.9 M)
