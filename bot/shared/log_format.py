"""`--log-format json`: one JSON object per log line, for log collectors (Loki, Elasticsearch, journald).

Each line has `time` (UTC, ISO 8601), `level`, `logger`, `message`, the `request` id when the line was
written while answering a request (the id an apology shows; see `request_ids`), and `exception` with the
traceback text when there is one.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from moodtape.bot.shared.request_ids import current_request

__all__ = ["JsonFormatter"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None) or current_request()
        if request is not None:
            entry["request"] = request
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
