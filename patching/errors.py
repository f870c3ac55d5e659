"""The domain's errors: one base, and the refusal of bad input with its exit code.

Every error the domain raises derives from `PatchingError`. `BadInput` is what a
command line reports as one line on stderr; it carries its own exit status, so
`patchctl` and `fleetsim` share one convention (click's model).
"""

from __future__ import annotations

from typing import ClassVar


class PatchingError(Exception):
    """Base of every error the patching domain raises."""


class BadInput(PatchingError, ValueError):
    """Input refused: the message names the field and what was expected."""

    exit_code: ClassVar[int] = 2
