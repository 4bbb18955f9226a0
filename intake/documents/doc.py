"""Reading legacy Word 97-2003 (.doc) files with antiword, or LibreOffice when present.

Neither has a maintained pure-Python equivalent for the binary format, so
we call the converter on a copy in a private temporary folder, with a
timeout. Without a converter the report goes to a coordinator.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from intake.containers import is_encrypted_office
from intake.documents.budget import Budget
from intake.documents.plain import finish_text
from intake.documents.tools import ToolError, find_tool, run_tool
from intake.model import DocumentText

NO_DOC_TOOL = "Tệp Word cũ (.doc): máy chủ chưa cài antiword hoặc LibreOffice để đọc"
_MAX_SECONDS = 60.0


def _antiword(path: Path, budget: Budget) -> str:
    binary = find_tool("antiword")
    if binary is None:
        raise ToolError("chưa cài antiword")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(path.parent), "LC_ALL": "C.UTF-8"}
    out = run_tool([binary, "-m", "UTF-8.txt", "-w", "0", str(path)],
                   timeout=min(_MAX_SECONDS, budget.remaining_seconds()), env=env)
    return out.decode("utf-8", "replace")


def _soffice(path: Path, budget: Budget) -> str:
    binary = find_tool("soffice")
    if binary is None:
        raise ToolError("chưa cài LibreOffice")
    outdir = path.parent / "out"
    profile = path.parent / "profile"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(path.parent)}
    run_tool([binary, "--headless", "--norestore", "--nolockcheck", f"-env:UserInstallation={profile.as_uri()}",
              "--convert-to", "txt:Text (encoded):UTF8", "--outdir", str(outdir), str(path)],
             timeout=min(_MAX_SECONDS * 2, budget.remaining_seconds()), env=env)
    produced = outdir / (path.stem + ".txt")
    if not produced.exists():
        raise ToolError("LibreOffice không tạo ra văn bản")
    return produced.read_text("utf-8", "replace")


def read_doc(filename: str, data: bytes, budget: Budget) -> DocumentText:
    doc = DocumentText(filename=filename, format="doc")
    if is_encrypted_office(data):
        doc.needs_review = "Tệp Word có mật khẩu, không đọc được nội dung"
        return doc
    if find_tool("antiword") is None and find_tool("soffice") is None:
        doc.notes.append("chưa đọc được tệp .doc: máy chủ thiếu công cụ chuyển đổi")
        doc.needs_review = NO_DOC_TOOL
        return doc
    errors: list[str] = []
    text: str | None = None
    with tempfile.TemporaryDirectory(prefix="tdc-doc-") as tmp:
        path = Path(tmp) / "input.doc"
        path.write_bytes(data)
        for converter in (_antiword, _soffice):
            try:
                text = converter(path, budget)
                break
            except ToolError as exc:
                errors.append(str(exc).replace(str(path), filename))
    if text is None:
        doc.notes.append("không đọc được tệp: " + "; ".join(errors))
        doc.needs_review = "Không đọc được tệp Word (.doc): tệp hỏng hoặc định dạng không đúng"
        return doc
    return finish_text(doc, text, budget)
