"""The operations log (docs/CONTRACTS.md section 4): one JSON line per operation or refusal."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

# A request body is logged whole up to this size; a longer one is cut and marked.
LOGGED_BODY_LIMIT = 16 * 1024


def logged_body(raw: bytes) -> Any:
    """A request body as its log line shows it: JSON as parsed, else text, bounded.

    A body over `LOGGED_BODY_LIMIT` bytes is logged as
    `{"truncated": true, "bytes": N, "head": "<its first LOGGED_BODY_LIMIT bytes>"}`.
    """
    if not raw:
        return None
    if len(raw) > LOGGED_BODY_LIMIT:
        head = raw[:LOGGED_BODY_LIMIT].decode("utf-8", "replace")
        return {"truncated": True, "bytes": len(raw), "head": head}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace")


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a trailing Z, as every contract time."""
    text = moment.astimezone(UTC).isoformat(
        timespec="seconds" if moment.microsecond == 0 else "microseconds"
    )
    return text.replace("+00:00", "Z")


class OperationLog:
    """Appends lines to a file, or drops them when no file was asked for."""

    def __init__(self, path: Path | None) -> None:
        self._file: IO[str] | None = path.open("a", encoding="utf-8") if path is not None else None
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = json.dumps(entry, separators=(",", ":"), sort_keys=False)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
