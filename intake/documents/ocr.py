"""Optical character recognition for scanned reports (tesseract, Vietnamese model).

Many provinces scan the signed, stamped report and send only the PDF image.
We render pages with pdftoppm and read them with ``tesseract -l vie``; when
either tool or the Vietnamese language data is missing the document goes to
a coordinator with the reason, rather than being silently treated as empty.
"""
from __future__ import annotations

import io
import math
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


MIN_DPI = 30  # below this the text is unreadable anyway


def render_dpi(width_pt: float, height_pt: float, max_pixels: int) -> int:
    """The resolution that keeps one rendered page within ``max_pixels`` (at most RENDER_DPI).

    Pixels are counted before pdftoppm runs: a 337-byte PDF can declare a page
    of 6000 × 6000 points, which at 200 dpi is 280 megapixels and gigabytes.
    """
    area_in2 = max(width_pt, 1.0) * max(height_pt, 1.0) / (72.0 * 72.0)
    return min(RENDER_DPI, int(math.sqrt(max_pixels / area_in2)))


def _page_sizes(data: bytes) -> dict[int, tuple[float, float]]:
    from pypdf import PdfReader

    sizes: dict[int, tuple[float, float]] = {}
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        for index, page in enumerate(reader.pages):
            box = page.mediabox
            unit = float(page.get("/UserUnit", 1) or 1)
            sizes[index] = (abs(float(box.width)) * unit, abs(float(box.height)) * unit)
    except Exception:  # noqa: BLE001 - unknown size: rendered at the smallest resolution
        return {}
    return sizes


def ocr_pdf_pages(data: bytes, pages: list[int], budget: Budget) -> tuple[dict[int, str], list[str]]:
    """Text of the given 0-based pages, and notes about pages that failed."""
    renderer = find_tool("pdftoppm")
    if renderer is None:
        raise ToolError("máy chủ chưa cài pdftoppm")
    texts: dict[int, str] = {}
    problems: list[str] = []
    max_pixels = budget.limits.containers.max_pixels
    sizes = _page_sizes(data)
    with tempfile.TemporaryDirectory(prefix="tdc-ocr-") as tmp:
        source = Path(tmp) / "input.pdf"
        source.write_bytes(data)
        for page in pages:
            if budget.out_of_time():
                break
            width, height = sizes.get(page, (14400.0, 14400.0))  # unknown: as large as PDF allows
            dpi = render_dpi(width, height, max_pixels)
            if dpi < MIN_DPI:
                problems.append(f"trang {page + 1}: trang quá lớn để nhận dạng ({width:.0f} × {height:.0f} điểm)")
                continue
            target = Path(tmp) / f"page-{page + 1}"
            try:
                run_tool([renderer, "-r", str(dpi), "-f", str(page + 1), "-l", str(page + 1),
                          "-png", "-singlefile", str(source), str(target)],
                         timeout=min(_PAGE_SECONDS, budget.remaining_seconds()), env=_env())
                texts[page] = _recognise(target.with_suffix(".png"), budget)
            except ToolError as exc:
                problems.append(f"trang {page + 1}: {exc}")
    return texts, problems


def image_too_large(data: bytes, max_pixels: int) -> str | None:
    """Why an image must not go to tesseract (its header declares too many pixels), or None."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    except Exception:  # noqa: BLE001 - tesseract will say what is wrong with it
        return None
    if width * height > max_pixels:
        return f"ảnh quá lớn để nhận dạng chữ ({width} × {height} điểm ảnh)"
    return None


def ocr_image(data: bytes, suffix: str, budget: Budget) -> str:
    if (reason := image_too_large(data, budget.limits.containers.max_pixels)) is not None:
        raise ToolError(reason)
    with tempfile.TemporaryDirectory(prefix="tdc-ocr-") as tmp:
        image = Path(tmp) / f"image{suffix}"
        image.write_bytes(data)
        return _recognise(image, budget)
