"""A shortcut for the one hot spot of the SDK's replay: parsing history timestamps.

The SDK parses every event's `Timestamp` with `dateutil.parser.parse` at every
replay (about 100 µs each, most of a replay's cost). The engine writes every
timestamp in one fixed ISO form; for exactly that form the same datetime is
built directly, with the very time zone object dateutil gives for `Z` on
this machine. Any other text still goes to dateutil.
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

_ENGINE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_MODULE = "azure.durable_functions.models.history.HistoryEvent"
_install_lock = threading.Lock()


def install() -> None:
    """Make the SDK's history events parse the engine's timestamps directly (idempotent)."""
    with _install_lock:
        # The package re-exports the class under the module's name; fetch the module itself.
        importlib.import_module(_MODULE)
        module = sys.modules[_MODULE]
        original: Callable[..., datetime] = getattr(module, "dt_parse")  # noqa: B009
        if getattr(original, "engine_format_shortcut", False):
            return
        setattr(module, "dt_parse", engine_format_parser(original))  # noqa: B010


def engine_format_parser(original: Callable[..., datetime]) -> Callable[..., datetime]:
    """`original` with the engine's timestamp form parsed without it, to the same value."""
    zone = original("2000-01-01T00:00:00.000000Z").tzinfo

    def parse(text: Any, *args: Any, **kwargs: Any) -> datetime:
        if not args and not kwargs and isinstance(text, str) and _ENGINE_FORMAT.fullmatch(text):
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=zone)
        return original(text, *args, **kwargs)

    parse.engine_format_shortcut = True  # type: ignore[attr-defined]
    return parse
