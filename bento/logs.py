"""The service's log lines: JSON for a log platform, and a rejected request as one warning."""

from __future__ import annotations

import json
import logging

from pydantic import ValidationError


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per log record, so a log platform can index the service's logs."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "component": str(getattr(record, "component", "")).strip("[]") or None,
            "message": record.getMessage(),
            "trace": str(getattr(record, "trace_msg", "")).strip(" ()") or None,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def use_json_logs() -> None:
    """Re-format the handlers BentoML set up in this worker as JSON lines."""
    for name in (None, "bentoml"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonLinesFormatter())


class ClientErrorsAsWarnings(logging.Filter):
    """A rejected request is the client's mistake, not the service's error: BentoML logs each
    one at ERROR with a traceback (`log_exception` in its http_app); this turns those records
    into one WARNING line naming the fields and the reasons. Other errors pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}"
                for e in error.errors(include_url=False, include_input=False)[:10]
            )
            path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = f"Rejected input on {path} ({error.error_count()}): {problems}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
