"""The command line's own words (Click's and Typer's: "Usage:", "Options", "[required]", errors) in Vietnamese.

Why gettext: Click and Typer write every word of their help and error
screens through ``gettext.gettext`` in the default domain, which is how they
are meant to be translated; a coordinator reading ``tdc-bot accept --help``
should meet no English. The catalogue is the table below (one place to edit),
compiled on first use into a standard ``.mo`` file in a per-user cache (GNU
gettext's binary format is a few lines to write), then bound with
``gettext.bindtextdomain``. The command's own help texts are written in
Vietnamese where the commands are defined.
"""
from __future__ import annotations

import gettext
import hashlib
import os
import struct
import tempfile
from pathlib import Path

DOMAIN = "messages"  # the domain Click and Typer translate through (gettext's default)
VI: dict[str, str] = {
    "Usage:": "Cách dùng:",
    "Options": "Tùy chọn",
    "Arguments": "Tham số",
    "Commands": "Lệnh",
    "Positional arguments": "Tham số theo vị trí",
    "Show this message and exit.": "In hướng dẫn này rồi thoát.",
    "Show the version and exit.": "In phiên bản rồi thoát.",
    "[required]": "[bắt buộc]",
    "required": "bắt buộc",
    "[default: {}]": "[mặc định: {}]",
    "default: {default}": "mặc định: {default}",
    "[env var: {}]": "[biến môi trường: {}]",
    "env var: {var}": "biến môi trường: {var}",
    "(deprecated) ": "(không dùng nữa) ",
    "deprecated": "không dùng nữa",
    "Error": "Lỗi",
    "Error: {message}": "Lỗi: {message}",
    "Aborted!": "Đã dừng.",
    "Aborted.": "Đã dừng.",
    "Missing command.": "Thiếu tên lệnh.",
    "Missing argument": "Thiếu tham số",
    "Missing option": "Thiếu tùy chọn",
    "Missing parameter": "Thiếu tham số",
    "Missing parameter: {param_name}": "Thiếu tham số: {param_name}",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
    "No such option {name!r}.": "Không có tùy chọn {name!r}.",
    "Option {name!r} does not take a value.": "Tùy chọn {name!r} không nhận giá trị.",
    "Option {name!r} requires an argument.": "Tùy chọn {name!r} cần một giá trị.",
    "Invalid value for {param_hint}: {message}": "Giá trị không hợp lệ cho {param_hint}: {message}",
    "Invalid value: {message}": "Giá trị không hợp lệ: {message}",
    "Try '{command} {option}' for help.": "Xem hướng dẫn: '{command} {option}'.",
    "Try [blue]'{command_path} {help_option}'[/] for help.": "Xem hướng dẫn: '{command_path} {help_option}'.",
    "Got unexpected extra argument ({args})": "Thừa tham số ({args})",
    "Got unexpected extra arguments ({args})": "Thừa các tham số ({args})",
    "{value!r} is not a valid {number_type}.": "{value!r} không phải là số hợp lệ.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "{value!r} không phải giá trị đúng/sai. Các giá trị nhận: {states}",
    "{value} is not in the range {range}.": "{value} không nằm trong khoảng {range}.",
    "{name} {filename!r} does not exist.": "{name} {filename!r} không tồn tại.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} là một thư mục.",
    "{name} {filename!r} is a file.": "{name} {filename!r} là một tệp.",
    "{name} {filename!r} is not readable.": "Không đọc được {name} {filename!r}.",
    "{name} {filename!r} is not writable.": "Không ghi được {name} {filename!r}.",
    "file": "tệp",
    "directory": "thư mục",
    "path": "đường dẫn",
    "Choose from:\n\t{choices}": "Chọn một trong:\n\t{choices}",
    "Could not open file {filename!r}: {message}": "Không mở được tệp {filename!r}: {message}",
}


def compile_mo(catalogue: dict[str, str]) -> bytes:
    """A GNU gettext ``.mo`` file (little-endian, no hash table) for ``catalogue``."""
    keys = sorted(catalogue)
    ids = [k.encode("utf-8") for k in keys]
    strs = [catalogue[k].encode("utf-8") for k in keys]
    header = b"Content-Type: text/plain; charset=UTF-8\n"
    ids.insert(0, b"")
    strs.insert(0, header)
    count = len(ids)
    start = 7 * 4 + 16 * count
    offsets: list[int] = []
    blob = b""
    for text in ids + strs:
        offsets += [len(text), start + len(blob)]
        blob += text + b"\0"
    key_table = offsets[: 2 * count]
    value_table = offsets[2 * count:]
    return (struct.pack("<7I", 0x950412DE, 0, count, 7 * 4, 7 * 4 + 8 * count, 0, 0)
            + struct.pack(f"<{2 * count}I", *key_table) + struct.pack(f"<{2 * count}I", *value_table) + blob)


def _cache_dir(data: bytes) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(data).hexdigest()[:16]
    for root in (base / "tdc-intake", Path(tempfile.gettempdir()) / f"tdc-intake-{os.getuid()}"):
        folder = root / "locale" / digest
        try:
            target = folder / "vi" / "LC_MESSAGES" / f"{DOMAIN}.mo"
            if not target.is_file() or target.read_bytes() != data:
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                tmp = target.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(target)
            return folder
        except OSError:
            continue
    raise OSError("no writable cache folder for the command line's translations")


def install() -> None:
    """Make Click's and Typer's words Vietnamese for this process (English stays if nothing can be written)."""
    data = compile_mo(VI)
    try:
        folder = _cache_dir(data)
    except OSError:
        return
    os.environ["LANGUAGE"] = "vi"  # gettext reads the language at each call; the catalogue decides, not the locale
    gettext.bindtextdomain(DOMAIN, str(folder))
    gettext.textdomain(DOMAIN)


# Typer vendors its own Click (typer._click) with these English words written in, not through gettext: its help
# option's text, the usage prefix and the error lines. They are translated at those three seams, here only.
_ERRORS = (
    (r"^Missing argument '([^']*)'\.$", "Thiếu tham số '{0}'."),
    (r"^Missing option '([^']*)'(.*)\.$", "Thiếu tùy chọn '{0}'{1}."),
    (r"^No such option: (.*)$", "Không có tùy chọn: {0}"),
    (r"^No such command '([^']*)'\.$", "Không có lệnh '{0}'."),
    (r"^Invalid value for '([^']*)'(.*?): '(.*)' is not a valid integer\.$",
     "Giá trị không hợp lệ cho '{0}'{1}: '{2}' không phải là số nguyên."),
    (r"^Invalid value for (.*?): (.*)$", "Giá trị không hợp lệ cho {0}: {1}"),
    (r"^Got unexpected extra arguments? \((.*)\)$", "Thừa tham số ({0})"),
    (r"^Option '([^']*)' requires an argument\.$", "Tùy chọn '{0}' cần một giá trị."),
    (r"^Missing command\.$", "Thiếu tên lệnh."),
)
# Phrases inside messages (pydantic's type errors, Click's suggestions).
_PHRASES = (
    ("Input should be a valid integer, unable to parse string as an integer", "phải là số nguyên"),
    ("Input should be a valid integer", "phải là số nguyên"),
    ("Input should be a valid number", "phải là số"),
    ("Input should be a valid boolean", "phải là đúng/sai"),
    ("Did you mean", "Có phải ý bạn là"),
)
HELP_TEXT = "In hướng dẫn này rồi thoát."


def error_words(message: str) -> str:
    """A usage error of the vendored Click in Vietnamese (the message as it was when no pattern knows it)."""
    import re

    for pattern, words in _ERRORS:
        match = re.match(pattern, message)
        if match:
            message = words.format(*match.groups())
            break
    for english, vietnamese in _PHRASES:
        message = message.replace(english, vietnamese)
    return message


def translate_typer() -> None:
    """Patch the vendored Click's usage prefix and error lines to Vietnamese (idempotent)."""
    try:
        from typer._click import exceptions, formatting
        from typer._click.utils import echo
    except ImportError:  # a Typer that uses the real Click: gettext (install) already covers it
        return
    if getattr(formatting.HelpFormatter, "_tdc_vi", False):
        return
    original = formatting.HelpFormatter.write_usage

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        original(self, prog, args, "Cách dùng: " if prefix is None else prefix)

    def show_click(self, file=None) -> None:
        echo(f"Lỗi: {error_words(self.format_message())}", file=file, err=file is None)

    def show_usage(self, file=None) -> None:
        if self.ctx is not None:
            hint = ""
            if self.ctx.command.get_help_option(self.ctx) is not None:
                hint = f"Xem hướng dẫn: '{self.ctx.command_path} {self.ctx.help_option_names[0]}'.\n"
            echo(f"{self.ctx.get_usage()}\n{hint}", file=file, err=file is None)
        echo(f"Lỗi: {error_words(self.format_message())}", file=file, err=file is None)

    formatting.HelpFormatter.write_usage = write_usage  # type: ignore[method-assign]
    _translate_type_labels()
    exceptions.ClickException.show = show_click  # type: ignore[method-assign]
    exceptions.UsageError.show = show_usage  # type: ignore[method-assign]
    formatting.HelpFormatter._tdc_vi = True  # type: ignore[attr-defined]


# Typer shows a value's Python type after each option ("--year <int>", "--out <path>"): in words instead.
TYPE_WORDS = {"str": "chữ", "int": "số", "float": "số", "int range": "số", "float range": "số", "path": "tệp",
              "file": "tệp", "directory": "thư mục", "datetime": "ngày giờ", "bool": "có/không"}
USAGE_WORDS = {"[OPTIONS]": "[TÙY CHỌN]", "COMMAND [ARGS]...": "LỆNH [THAM SỐ]..."}
# Arguments are named in the usage line by their Python names ("{agency}"): the placeholders a coordinator types.
ARGUMENT_WORDS = {"agency": "ĐƠN-VỊ", "archive": "BẢN-SAO-LƯU", "email": "EMAIL", "file": "TỆP", "files": "TỆP",
                  "ids": "ID", "message": "SỐ-THƯ", "submission": "ĐƠN-VỊ/NĂM"}


def _translate_type_labels() -> None:
    try:
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = _TyperParameter.display_type

    def display_type(self, ctx) -> str:
        label = original(self, ctx)
        inner = label[1:-1] if label.startswith("<") and label.endswith(">") else None
        return f"<{TYPE_WORDS[inner]}>" if inner in TYPE_WORDS else label

    _TyperParameter.display_type = display_type  # type: ignore[method-assign]


def translate_help_options(command) -> None:
    """Every command's --help says what it does in Vietnamese (the vendored Click writes its text in English)."""
    from typer._click.core import Context

    stack = [command]
    while stack:
        cmd = stack.pop()
        option = cmd.get_help_option(Context(cmd, info_name=cmd.name))
        if option is not None:
            option.help = HELP_TEXT
        for param in cmd.params:
            if param.param_type_name == "argument" and param.metavar is None and param.name in ARGUMENT_WORDS:
                param.metavar = ARGUMENT_WORDS[param.name]
        for attribute in ("options_metavar", "subcommand_metavar"):
            value = getattr(cmd, attribute, None)
            if value in USAGE_WORDS:
                setattr(cmd, attribute, USAGE_WORDS[value])
        stack.extend(getattr(cmd, "commands", {}).values())
