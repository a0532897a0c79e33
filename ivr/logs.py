"""Logging for `ivr serve`, gunicorn and `python app.py`: the line's own events, one line each.

Lines go to stderr as text, or as one JSON object each with `IVR_LOG_JSON=1`. Whatever a line
says, a phone number in it is masked first: the caller's number must never reach a log, and a
request line or an error can carry one (`From=%2B44…` in a GET webhook's query string).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# +44 7700 900123, %2B447700900123, 07700900123, 07700 900123: international or UK national numbers.
PHONE = re.compile(r"(?:\+|%2B|%2b)\d[\d\s().-]{5,18}\d|(?<![\w.:-])0\d[\d -]{7,13}\d(?![\w:-])")
MASK = "[number]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONFIGURED = "_ivr_handler"


def mask(text: str) -> str:
    """Replace every phone number in a text with a mask."""
    return PHONE.sub(_masked, text)


def _masked(found: re.Match[str]) -> str:
    number = found.group(0)
    if number[0] == "0" and not 10 <= sum(c.isdigit() for c in number) <= 11:
        return number  # a national number has 10 or 11 digits: anything else starting 0 is not one
    return MASK


class MaskNumbers(logging.Filter):
    """Mask phone numbers in a record's message (arguments merged) before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with numbers masked; never drops a record."""
        message = record.getMessage()
        masked = mask(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the error, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


def handler(as_json: bool = False) -> logging.Handler:
    """Return a stderr handler that masks numbers, as text or JSON."""
    found = logging.StreamHandler(sys.stderr)
    found.addFilter(MaskNumbers())
    found.setFormatter(JsonFormatter() if as_json else logging.Formatter(TEXT_FORMAT))
    setattr(found, _CONFIGURED, True)
    return found


def configure(level: str = "INFO", as_json: bool = False, *, force: bool = False) -> None:
    """Send the line's log to stderr, numbers masked; unless logging is already set up (force: anyway).

    Whoever else set up logging (gunicorn's logconfig, a test runner), their handlers mask too.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _CONFIGURED, False)]
    if force or not root.handlers:
        for old in ours:
            root.removeHandler(old)
        root.addHandler(handler(as_json))
        root.setLevel(level.upper() if isinstance(level, str) else level)
    # Access logs and everyone's handlers mask too: werkzeug's and gunicorn's lines included.
    for name in ("", "werkzeug", "gunicorn.access", "gunicorn.error"):
        for existing in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskNumbers) for f in existing.filters):
                existing.addFilter(MaskNumbers())


def describe(error: BaseException) -> str:
    """Name an error by its type and first line, without the SQL parameters SQLAlchemy appends."""
    inner = getattr(error, "orig", None) or error
    first = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {first[:200]}"
