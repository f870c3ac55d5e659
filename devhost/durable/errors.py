"""What the Durable HTTP API answers with a status code other than 2xx."""

from __future__ import annotations


class DurableError(Exception):
    """A management request the instance's state does not allow."""


class UnknownInstance(DurableError):
    """No instance has this id (HTTP 404)."""


class InstanceFinished(DurableError):
    """The instance already completed, failed or was terminated (HTTP 410)."""


class InstanceRunning(DurableError):
    """The instance has not finished, so its history cannot be purged (HTTP 412)."""


class InstanceExists(DurableError):
    """The id's instance has not finished and host.json says it must not be replaced.

    The extension replaces an existing instance by default; only with
    `overridableExistingInstanceStates: NonRunningStates` does it refuse.
    """


class UnknownOrchestrator(DurableError):
    """No orchestrator function of that name (HTTP 400)."""
