"""`python -m devhost serve`: a Python v2 Functions app on the local host."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from devhost.app_loader import AppLoadError, load_app
from devhost.host import FUNCTION_KEY_PATTERN, LocalHost
from fleetsim.clock import ScaledClock
from patchctl.console import (
    RefusingParser,
    int_between,
    positive_number_up_to,
    run_refusing,
    until_stopped,
)
from patching.errors import BadInput

# Past this, a minute of the host's clock lasts under a millisecond of real time.
MAX_CLOCK_SPEED = 100_000.0


def _function_key(text: str) -> str:
    if not FUNCTION_KEY_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected 1 to 256 letters, digits, '-' or '_', got {text!r}"
        )
    return text


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability from 0 to 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = RefusingParser(
        prog="python -m devhost",
        description="Local Functions host with the Durable extension, for a Python v2 app.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=RefusingParser)
    serve = commands.add_parser("serve", help="serve the app on 127.0.0.1")
    serve.add_argument(
        "--app", required=True, help="MODULE[:ATTR] (ATTR default: app), from the current folder"
    )
    serve.add_argument(
        "--port", type=int_between(0, 65535), default=0, help="port (default: any free one)"
    )
    serve.add_argument(
        "--clock-speed",
        type=positive_number_up_to(MAX_CLOCK_SPEED),
        default=1.0,
        help="the host's clock runs this many times faster than real time",
    )
    serve.add_argument(
        "--function-key", type=_function_key, help="the key to require (default: random)"
    )
    serve.add_argument(
        "--duplicate-activities",
        type=_probability,
        default=0.0,
        help="probability of running each activity a second time (default 0)",
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    try:
        app = load_app(args.app)
        host = LocalHost(
            app,
            clock=ScaledClock(args.clock_speed),
            port=args.port,
            function_key=args.function_key,
            duplicate_activities=args.duplicate_activities,
        )
    except AppLoadError as error:
        raise BadInput(f"--app {args.app}: {error}") from error
    except OSError as error:
        raise BadInput(f"--port: cannot serve on 127.0.0.1:{args.port}: {error}") from error
    with host, until_stopped() as wait:
        print(host.base_url, flush=True)
        print(f"function key: {host.function_key}", flush=True)
        wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="devhost: %(message)s")
    return run_refusing("devhost: ", lambda: _serve(_parser().parse_args(argv)))
