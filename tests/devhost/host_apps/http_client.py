"""A plain urllib client for the host tests: every answer, whatever its status."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str,
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and raw is None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, _lowercased(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, _lowercased(error.headers.items()), error.read())


def poll_until_done(status_url: str, timeout: float = 20.0) -> Answer:
    """Follow a status URL until it answers something other than 202."""
    deadline = time.monotonic() + timeout
    while True:
        answer = call("GET", status_url)
        if answer.status != 202 or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def _lowercased(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}
