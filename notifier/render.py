"""Render the bot's emails from Jinja2 templates (subject, plain text, HTML).

Why templates and not f-strings: the wording is Vietnamese prose that
coordinators will want to adjust without touching code, and Jinja2's
autoescape guarantees that whatever came from an email (a subject, a file
name, a sender's name) is shown as text in the HTML part, never as markup.

Each email ``name`` is three files in ``templates/email/``:
``<name>.subject.j2`` (one line), ``<name>.txt.j2`` and ``<name>.html.j2``.
Autoescaping is chosen by extension: on for ``.html.j2``, off for the others.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from notifier.addressing import addressee, agency_reasons
from notifier.labels import days_left, note_words, state_label
from reference.numbers import vn_filesize, vn_number
from reference.text import clip
from reference.time import VN, vn_date, vn_datetime

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
VN_TZ = VN  # the one definition is reference.time.VN

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Every kind of line break or control character: a subject is one header line, and a
# newline in it would let a sender's text add headers of its own (header injection).
_SUBJECT_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SPACES = re.compile(r"[ \t\u00a0]+")
SUBJECT_MAX = 250


class RenderError(Exception):
    """A template is missing or failed; the message names the email and the template."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    """Collapse any line breaks and runs of spaces, so a value is safe as a header."""
    return clip(_SPACES.sub(" ", _SUBJECT_BREAKS.sub(" ", text)).strip(), limit)


def make_environment(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    """The Jinja2 environment: strict about missing values, escaping HTML by extension."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["vn_date"] = vn_date
    env.filters["days_left"] = days_left
    env.filters["vn_datetime"] = vn_datetime
    env.filters["vn_number"] = vn_number
    env.filters["vn_filesize"] = vn_filesize
    env.filters["one_line"] = one_line
    env.filters["state_label"] = state_label
    env.filters["note_words"] = note_words  # what intake noted, worded for a coordinator
    env.filters["addressee"] = addressee  # "Kính gửi:" line of letters to agencies (one rule)
    env.filters["agency_reasons"] = agency_reasons  # plain reasons, no internal scores
    return env


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> Environment:
    return make_environment(templates_dir)


def compile_ahead(*names: str) -> None:
    """Compile these emails' templates now: the daemon does it at start, so the first acknowledgements of a
    burst of reports do not wait while Jinja2 compiles them (then cached by the environment)."""
    env = _environment(TEMPLATES_DIR)
    for name in names:
        for part in ("subject", "txt", "html"):
            env.get_template(f"email/{name}.{part}.j2")


def render_email(name: str, templates_dir: Path | None = None, /, **context: Any) -> RenderedEmail:
    """Render ``templates/email/<name>.{subject,txt,html}.j2`` with ``context``.

    Raises RenderError naming the template when one is missing, a context
    value is missing (StrictUndefined) or a filter rejects a value, so the
    caller can record the reason instead of sending a half-filled email.
    """
    if not _NAME.match(name):
        raise RenderError(f"invalid email template name {name!r}")
    env = _environment(Path(templates_dir or TEMPLATES_DIR))
    parts: dict[str, str] = {}
    for part in ("subject", "txt", "html"):
        template_name = f"email/{name}.{part}.j2"
        try:
            parts[part] = env.get_template(template_name).render(**context)
        except (TemplateError, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise RenderError(f"{template_name}: {type(exc).__name__}: {exc}") from exc
    return RenderedEmail(
        subject=one_line(parts["subject"]),
        text=parts["txt"].strip() + "\n",
        html=parts["html"].strip() + "\n",
    )
