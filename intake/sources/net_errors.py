"""Why a mail server could not be reached, in the words a coordinator reads (not "gaierror: -2").

One place for the IMAP source, the SMTP transport and ``doctor``: each names
the server (host:port) and passes the exception here.
"""
from __future__ import annotations

import errno
import socket
import ssl


def reason(exc: BaseException) -> str:
    """The cause in Vietnamese, with the system's own words kept where they add something."""
    if isinstance(exc, socket.gaierror):
        return "không phân giải được tên máy chủ (sai tên, hoặc máy này không có DNS)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"không xác minh được chứng chỉ TLS của máy chủ ({exc.verify_message}); "
                "nếu máy chủ dùng CA riêng, đặt ca_file")
    if isinstance(exc, ssl.SSLError):
        return f"lỗi TLS ({exc.reason or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "máy chủ từ chối kết nối (sai cổng, hoặc dịch vụ chưa chạy)"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "hết thời gian chờ máy chủ trả lời"
    if isinstance(exc, ConnectionResetError):
        return "máy chủ ngắt kết nối giữa chừng"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "không tới được mạng của máy chủ"
    if isinstance(exc, EOFError):
        return "máy chủ đóng kết nối"
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def unreachable(server: str, exc: BaseException) -> str:
    """'không kết nối được máy chủ thư imap.x:993: không phân giải được tên máy chủ …'."""
    return f"không kết nối được máy chủ thư {server}: {reason(exc)}"
