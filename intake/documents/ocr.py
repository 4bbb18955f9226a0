"""Optical character recognition for scanned reports (tesseract, Vietnamese model).

Many provinces scan the signed, stamped report and send only the PDF image.
We render pages with pdftoppm and read them with ``tesseract -l vie``; when
either tool or the Vietnamese language data is missing the document goes to
a coordinator with the reason, rather than being silently treated as empty.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from intake.documents.budget import Budget
from intake.documents.tools import ToolError, find_tool, run_tool, tesseract_languages

OCR_LANGUAGE = "vie"
RENDER_DPI = 200
_PAGE_SECONDS = 60.0
MISSING_OCR = "máy chủ chưa cài OCR tiếng Việt (tesseract-ocr-vie)"


def _env() -> dict[str, str]:
    # One thread per tesseract: the daemon runs beside other work.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_THREAD_LIMIT": "1",
            "LC_ALL": "C.UTF-8"}


def ocr_unavailable(need_renderer: bool = True) -> str | None:
    """Why OCR cannot run here, or None when it can."""
    tesseract = find_tool("tesseract")
    if tesseract is None:
        return MISSING_OCR
    if OCR_LANGUAGE not in tesseract_languages(tesseract):
        return f"{MISSING_OCR}: thiếu dữ liệu ngôn ngữ '{OCR_LANGUAGE}'"
    if need_renderer and find_tool("pdftoppm") is None:
        return "máy chủ chưa cài pdftoppm (poppler-utils) để dựng ảnh trang PDF"
    return None


def _recognise(image: Path, budget: Budget) -> str:
    tesseract = find_tool("tesseract")
    if tesseract is None:
        raise ToolError(MISSING_OCR)
    timeout = min(_PAGE_SECONDS, budget.remaining_seconds())
    out = run_tool([tesseract, str(image), "stdout", "-l", OCR_LANGUAGE], timeout=timeout, env=_env())
    return out.decode("utf-8", "replace")


def ocr_pdf_pages(data: bytes, pages: list[int], budget: Budget) -> tuple[dict[int, str], list[str]]:
    """Text of the given 0-based pages, and notes about pages that failed."""
    renderer = find_tool("pdftoppm")
    if renderer is None:
        raise ToolError("máy chủ chưa cài pdftoppm")
    texts: dict[int, str] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tdc-ocr-") as tmp:
        source = Path(tmp) / "input.pdf"
        source.write_bytes(data)
        for page in pages:
            if budget.out_of_time():
                break
            target = Path(tmp) / f"page-{page + 1}"
            try:
                run_tool([renderer, "-r", str(RENDER_DPI), "-f", str(page + 1), "-l", str(page + 1),
                          "-png", "-singlefile", str(source), str(target)],
                         timeout=min(_PAGE_SECONDS, budget.remaining_seconds()), env=_env())
                texts[page] = _recognise(target.with_suffix(".png"), budget)
            except ToolError as exc:
                problems.append(f"trang {page + 1}: {exc}")
    return texts, problems


def ocr_image(data: bytes, suffix: str, budget: Budget) -> str:
    with tempfile.TemporaryDirectory(prefix="tdc-ocr-") as tmp:
        image = Path(tmp) / f"image{suffix}"
        image.write_bytes(data)
        return _recognise(image, budget)
