"""The credential the simulator's clients use."""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken


class SimulatorCredential:
    """Any token will do: the simulator checks that one is sent, not what it says."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken("fleetsim-token", int(time.time()) + 3600)
