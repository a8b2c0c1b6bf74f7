"""Structured logs: one JSON object per line on stderr, with the fields a log pipeline indexes.

>>> import io, logging
>>> stream = io.StringIO()
>>> logger = configure_logging("info", stream=stream)
>>> logger.info("request", extra={"fields": {"status": 200, "route": "/healthz"}})
>>> record = json.loads(stream.getvalue())
>>> record["msg"], record["status"], record["route"], record["level"]
('request', 200, '/healthz', 'info')
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

LOGGER = "seqintent.serve"


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message, and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str, *, stream: TextIO | None = None) -> logging.Logger:
    """The service logger, writing JSON lines to ``stream`` (stderr by default) at ``level``."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level.upper())
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    return logger
