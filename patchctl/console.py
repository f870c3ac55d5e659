"""What `patchctl` and `fleetsim` share as command lines: how they refuse and how they stop.

A refusal is `patching.errors.BadInput`: one line on stderr, `prog: message` or
`error: message`, and its exit status 2; argparse's own complaints take the same
road. SIGTERM becomes an exception, so a write in progress cleans up after itself.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn

from patching.errors import BadInput

EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived; a BaseException so no `except Exception` swallows it."""


class RefusingParser(argparse.ArgumentParser):
    """argparse, but a refusal is a `BadInput` (one line, exit status 2), not a usage page."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(f"{self.prog}: {message}")


def run_refusing(prefix: str, command: Callable[[], int]) -> int:
    """Run `command`; a refusal is one line `prefix message` on stderr and its exit status."""
    try:
        with _sigterm_raises():
            _require_stdout()
            return command()
    except BadInput as error:
        print(f"{prefix}{_one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except Terminated:
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        return 130


def _require_stdout() -> None:
    # Python leaves sys.stdout None when started with descriptor 1 closed; what a
    # command reports there would vanish, so it refuses before doing anything.
    if sys.stdout is None:
        raise BadInput("standard output is closed; nothing was done")
    try:
        descriptor = sys.stdout.fileno()
    except (OSError, ValueError):  # not a file (a capture in tests): nothing to check
        return
    try:
        os.fstat(descriptor)
    except OSError as error:
        raise BadInput("standard output is closed; nothing was done") from error


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "bad input"


# --- argument types: each refusal names the flag, through argparse -----------------


def path_argument(text: str) -> Path:
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot hold a NUL character")
    return Path(text)


def int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from error
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; expected {low} to {high}")
        return value

    return parse


def positive_number_up_to(high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from error
        if not (math.isfinite(value) and 0 < value <= high):
            raise argparse.ArgumentTypeError(
                f"{text} is out of range; expected a number above 0 and at most {high:g}"
            )
        return value

    return parse


@contextmanager
def until_stopped() -> Iterator[Callable[[], None]]:
    """A server's main loop: the handlers first, so a signal that comes while it announces
    itself is not lost; then `wait()` blocks until SIGINT or SIGTERM. The previous handlers
    come back on the way out."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def wait() -> None:
        # A bounded wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield wait
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
