"""Pictures and containers for the corpus shapes that carry no ordinary attachment.

* :func:`photo_page`: a phone photo of a signed page, as officials paste it
  into the body: the text rendered in a DejaVu font, the sheet tilted a few
  degrees, lit unevenly (one corner darker), saved as JPEG.
* :func:`winmail`: Outlook's ``winmail.dat`` (MS-OXTNEF) wrapping files, the
  long (Unicode) file name in the attachment's MAPI properties as Outlook
  writes it, so a Vietnamese name survives.

Everything is made in code, deterministic, with no binary checked in.
"""
from __future__ import annotations

import io
import struct
import textwrap
from pathlib import Path

_SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


ROWS_PER_PAGE = 38
_WRAP = 70


def page_rows(lines: list[str]) -> list[list[str]]:
    """The lines of a report wrapped as typed on A4, cut into pages of ``ROWS_PER_PAGE`` rows."""
    rows = [chunk for line in lines for chunk in (textwrap.wrap(line, _WRAP) or [""])]
    return [rows[i:i + ROWS_PER_PAGE] for i in range(0, len(rows), ROWS_PER_PAGE)]


def photo_page(rows: list[str], angle: float = 3.0, dark_corner: int = 0, width: int = 1240, height: int = 1754,
               quality: int = 80) -> bytes:
    """One A4 page photographed at about 150 dpi: tilted ``angle`` degrees, darker towards one corner (0-3)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFont

    font_path = _SERIF if _SERIF.exists() else _SANS
    size = 26  # 12.5 pt at 150 dpi
    font = ImageFont.truetype(str(font_path), size)
    sheet = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(sheet)
    for number, row in enumerate(rows):
        draw.text((90, 90 + number * int(size * 1.5)), row, font=font, fill=25)
    down = Image.linear_gradient("L")  # 0 at the top, 255 at the bottom
    diagonal = Image.blend(down, down.transpose(Image.Transpose.ROTATE_90), 0.5)
    for _ in range(dark_corner % 4):
        diagonal = diagonal.transpose(Image.Transpose.ROTATE_90)
    light = diagonal.resize((width, height)).point(lambda v: 175 + v * 80 // 255)  # 69 % to full brightness
    photo = ImageChops.multiply(sheet, light).rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=120)
    out = io.BytesIO()
    photo.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def logo_png() -> bytes:
    """A small signature logo, the kind every official's mail client pastes inline."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 32), (255, 255, 255))
    ImageDraw.Draw(image).ellipse((2, 2, 30, 30), fill=(200, 30, 30))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# ---- TNEF (MS-OXTNEF 2.1.3): attributes of level 1 (message) and 2 (attachment) ----

_SIGNATURE, _KEY = 0x223E9F78, 0x0001
_MESSAGE, _ATTACHMENT = 1, 2
_TNEF_VERSION, _OEM_CODEPAGE, _MESSAGE_CLASS = 0x00089006, 0x00069007, 0x00078008
_RENDDATA, _TITLE, _DATA, _MAPI = 0x00069002, 0x00018010, 0x0006800F, 0x00069005
_PT_UNICODE, _PR_ATTACH_LONG_FILENAME = 0x001F, 0x3707


def _attribute(level: int, ident: int, data: bytes) -> bytes:
    return struct.pack("<BII", level, ident, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _unicode_property(prop_id: int, value: str) -> bytes:
    encoded = value.encode("utf-16-le") + b"\x00\x00"
    padded = encoded + b"\x00" * (-len(encoded) % 4)
    return struct.pack("<HHII", _PT_UNICODE, prop_id, 1, len(encoded)) + padded


def winmail(files: dict[str, bytes], message_class: str = "IPM.Note") -> bytes:
    """A winmail.dat stream as Outlook writes it for a "Rich Text" message with ``files`` attached."""
    out = struct.pack("<IH", _SIGNATURE, _KEY)
    out += _attribute(_MESSAGE, _TNEF_VERSION, struct.pack("<I", 0x00010000))
    out += _attribute(_MESSAGE, _OEM_CODEPAGE, struct.pack("<II", 1258, 0))
    out += _attribute(_MESSAGE, _MESSAGE_CLASS, message_class.encode("ascii") + b"\x00")
    for name, data in files.items():
        short = name.encode("cp1258", "replace")[:64] + b"\x00"
        out += _attribute(_ATTACHMENT, _RENDDATA, b"\x01\x00" + b"\xff" * 12)
        out += _attribute(_ATTACHMENT, _TITLE, short)
        out += _attribute(_ATTACHMENT, _DATA, data)
        out += _attribute(_ATTACHMENT, _MAPI, struct.pack("<I", 1) + _unicode_property(_PR_ATTACH_LONG_FILENAME, name))
    return out
