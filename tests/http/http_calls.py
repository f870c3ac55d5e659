"""One way the HTTP tests call a route: JSON bodies encoded, the function key in its header."""

from __future__ import annotations

import json
from typing import Any

import requests


def api_request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    key: str | None,
    json_body: Any = None,
    data: bytes | str | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    """`key` None sends no key at all."""
    headers = {"x-functions-key": key} if key is not None else {}
    if json_body is not None:
        data = json.dumps(json_body)
        headers["Content-Type"] = "application/json"
    return session.request(method, url, data=data, params=params, headers=headers, timeout=30)
