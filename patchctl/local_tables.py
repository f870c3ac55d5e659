"""Table Storage on this machine for the commands that run the app (`simulate`, `serve`):
Azurite started and stopped, the app's tables created, each failure one line of refusal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import AzureError

from azure_io.settings import Settings
from azure_io.tables import PatchTables
from devhost.azurite import AzuriteError, AzuriteTables
from patching.errors import BadInput


@contextmanager
def started_azurite() -> Iterator[AzuriteTables]:
    """Azurite's Table service, stopped on the way out (also after a failed start)."""
    azurite = AzuriteTables()
    try:
        azurite.start()
    except AzuriteError as error:
        azurite.__exit__(None, None, None)
        raise BadInput(f"cannot start Azurite for the tables: {error}") from error
    try:
        yield azurite
    finally:
        azurite.__exit__(None, None, None)


def opened_tables(settings: Settings, *, where: str) -> PatchTables:
    """The app's tables at the settings' Table Storage, created if missing; `where` names
    what the user gave (a flag, or Azurite) in the refusal."""
    try:
        store = PatchTables.from_settings(settings)
        store.create_tables()
    except (AzureError, ValueError) as error:
        raise BadInput(f"{where}: cannot use the tables: {error}") from error
    return store
