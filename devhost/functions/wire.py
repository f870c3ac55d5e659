"""One HTTP exchange as the host's handlers see it, apart from the socket."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class HostRequest:
    method: str
    target: str  # path and query as sent
    headers: Mapping[str, str]  # names lowercased
    body: bytes
    origin: str  # scheme://host:port the client addressed

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; a repeated name keeps its first value."""
        values: dict[str, str] = {}
        for name, value in parse_qsl(urlsplit(self.target).query, keep_blank_values=True):
            values.setdefault(name, value)
        return values

    @property
    def url(self) -> str:
        return f"{self.origin}{self.target}"

    def carries_key(self, key: str) -> bool:
        """Whether the request presents `key` as header `x-functions-key` or as `?code=`."""
        presented = self.headers.get("x-functions-key") or self.query.get("code")
        return presented is not None and hmac.compare_digest(presented.encode(), key.encode())


@dataclass(frozen=True)
class HostResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def json(
        cls, status: int, content: Any, headers: Mapping[str, str] | None = None
    ) -> HostResponse:
        return cls(
            status,
            (("Content-Type", "application/json; charset=utf-8"), *dict(headers or {}).items()),
            json.dumps(content).encode(),
        )

    @classmethod
    def message(cls, status: int, text: str) -> HostResponse:
        """An error in the shape the extension's web API gives: `{"Message": ...}`."""
        return cls.json(status, {"Message": text})
