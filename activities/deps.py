"""What every activity depends on, built once: the settings, the two ports and the clock.

This is the seam tests and the local rehearsal replace: they install their own
`Deps` (an in-process fleet simulator's compute adapter, an in-memory store or
Azurite, a virtual clock) with `use_deps` before the host runs the app. In Azure
nothing installs anything, and the first activity that asks builds the real
adapters from the app settings; nothing is built at import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from azure_io.clock import Clock, SystemClock
from azure_io.compute import ComputeAdapter
from azure_io.credentials import credential_from_settings
from azure_io.ports import ComputePort, PatchStore
from azure_io.settings import Settings
from azure_io.tables import PatchTables


@dataclass(frozen=True)
class Deps:
    settings: Settings
    compute: ComputePort
    store: PatchStore
    clock: Clock


_lock = threading.Lock()
_current: Deps | None = None


def deps() -> Deps:
    """The installed dependencies, or the real ones built from the environment once."""
    global _current
    with _lock:
        if _current is None:
            _current = _from_settings(Settings.from_env())
        return _current


def use_deps(installed: Deps) -> None:
    """Make every activity of this process use `installed` (tests, the local host)."""
    global _current
    with _lock:
        _current = installed


def reset_deps() -> None:
    """Forget what was installed or built; the next `deps()` builds from the environment."""
    global _current
    with _lock:
        _current = None


def _from_settings(settings: Settings) -> Deps:
    credential = credential_from_settings(settings)
    store = PatchTables.from_settings(settings, credential)
    store.create_tables()
    return Deps(
        settings=settings,
        compute=ComputeAdapter.from_settings(settings, credential),
        store=store,
        clock=SystemClock(),
    )
