"""Fonts in generated Word files, set so that Vietnamese renders in the intended face everywhere."""
from __future__ import annotations

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

OFFICIAL_FONT = "Times New Roman"


def set_font(element, name: str = OFFICIAL_FONT, size: Pt | None = None, bold: bool | None = None,  # noqa: ANN001
             italic: bool | None = None) -> None:
    """Font on a style or run with every script slot set and theme fonts removed.

    Word picks the font per script (ascii, hAnsi, cs, eastAsia) and a theme font
    wins over a named one: without this, some builds render the diacritics of
    Vietnamese in another face.
    """
    font = element.font
    font.name = name
    if size is not None:
        font.size = size
    if bold is not None:
        font.bold = bold
    if italic is not None:
        font.italic = italic
    rpr = element.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        rfonts.set(qn(attr), name)
