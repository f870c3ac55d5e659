"""The credential the ARM and table clients use, chosen by settings (never by sniffing).

In Azure it is ``DefaultAzureCredential`` (managed identity). A local ARM stand-in (the
fleet simulator) accepts any bearer token but the SDK still needs a credential, so the
``static`` kind hands out a fixed, meaningless token.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.identity import DefaultAzureCredential

from azure_io.settings import ArmCredentialKind, Settings

STATIC_TOKEN = "local-arm-stand-in"  # not a secret: only stand-ins accept it


class StaticTokenCredential:
    """A credential whose token never changes; for local stand-ins of ARM only."""

    def __init__(self, token: str = STATIC_TOKEN) -> None:
        self._token = token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


def credential_from_settings(settings: Settings) -> TokenCredential:
    if settings.arm_credential is ArmCredentialKind.STATIC:
        return StaticTokenCredential()
    return DefaultAzureCredential()
