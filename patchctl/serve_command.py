"""`patchctl serve`: the function app on this machine, to try it before deploying.

The app as deployed (`function_app.app`, with its `host.json`) runs on the local host
(`devhost.host.LocalHost`: its HTTP routes under `/api`, its timers, the Event Grid
webhook, the Durable HTTP API), its activities reach the fleet simulator over HTTPS
(with the simulator's CA, as they would reach ARM) and keep their records in Azurite's
tables. All three share one clock running `--clock-speed` times real time, so the hourly
timer and the cycle's slots come in minutes rather than days. The app manages the
fleet's subscriptions.

Everything it starts is stopped on the way out (Ctrl-C, SIGTERM, or a failure while
starting), in the reverse order it started. The heavy parts (the app, the Azure SDK, the
host) are imported only when a server starts: `patchctl plan` never pays for them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure_io.settings import Settings, SettingsError
from patchctl.console import until_stopped
from patchctl.files import read_json
from patching.errors import BadInput
from patching.fleet import Fleet, FleetError, parse_fleet

if TYPE_CHECKING:
    from devhost.host import LocalHost
    from fleetsim.clock import ScaledClock
    from fleetsim.server import RunningSimulator

# Past this, a minute of the clock lasts under a millisecond of real time (devhost's limit).
MAX_CLOCK_SPEED = 100_000.0
HOST = "127.0.0.1"
EVENT_GRID_FUNCTION = "release_published"
# The app's dependencies (`activities.deps`) are the process's: one server at a time.
_one_server = threading.Lock()
# The local host's own rule (devhost.host.FUNCTION_KEY_PATTERN): keys go into URLs unescaped.
_FUNCTION_KEY = re.compile(r"[A-Za-z0-9_-]{1,256}")


def function_key_argument(text: str) -> str:
    if not _FUNCTION_KEY.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected 1 to 256 letters, digits, '-' or '_', got {text!r}"
        )
    return text


@dataclass(frozen=True, slots=True)
class Serving:
    """What `serving` started: the host, the simulator, the tables, on one clock."""

    host: LocalHost
    simulator: RunningSimulator
    tables_port: int
    clock: ScaledClock
    settings: Settings

    @property
    def base_url(self) -> str:
        return self.host.base_url

    @property
    def function_key(self) -> str:
        return self.host.function_key

    @property
    def event_grid_url(self) -> str:
        return f"{self.base_url}/runtime/webhooks/eventgrid?functionName={EVENT_GRID_FUNCTION}"


def run(arguments: argparse.Namespace) -> int:
    # The app's warnings (a dropped event, a failed timer) go to stderr, said as ours.
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="patchctl serve: %(message)s"
    )
    planning = _planning_settings()
    document = read_json(arguments.fleet, "fleet file")
    what = f"fleet file {arguments.fleet}"
    fleet = _parsed(document, what)
    subscriptions = fleet_subscriptions(fleet, what)
    _refuse_taken_port(arguments.port)
    with (
        serving(
            document,
            subscriptions=subscriptions,
            planning=planning,
            port=arguments.port,
            clock_speed=arguments.clock_speed,
            function_key=arguments.function_key,
        ) as served,
        until_stopped() as wait,
    ):
        print(served.base_url, flush=True)
        print(f"function key: {served.function_key}", flush=True)
        print(
            f"patchctl serve: {len(fleet.vms)} VMs in {len(subscriptions)} subscriptions; "
            f"fleet simulator {served.simulator.base_url}; Azurite tables on "
            f"{HOST}:{served.tables_port}; clock at {arguments.clock_speed:g} times real time; "
            "Ctrl-C stops everything",
            file=sys.stderr,
            flush=True,
        )
        wait()
    return 0


def _planning_settings() -> Settings:
    """The user's planning settings (slots, windows, gate...); where ARM and the tables are
    is set by `serving`."""
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise BadInput(str(error)) from error


def _parsed(document: Any, what: str) -> Fleet:
    try:
        return parse_fleet(document)
    except FleetError as error:
        raise BadInput(f"{what}: {error}") from error
    except RecursionError as error:
        raise BadInput(f"{what} nests arrays or objects too deeply") from error


def fleet_subscriptions(fleet: Fleet, what: str = "the fleet") -> tuple[str, ...]:
    """Every subscription the fleet names or holds VMs in (as the simulator serves them),
    checked as the app's `PATCH_SUBSCRIPTIONS` is: GUIDs."""
    ids = sorted({*fleet.subscription_names, *(vm.subscription_id for vm in fleet.vms)})
    try:
        return Settings.from_env({"PATCH_SUBSCRIPTIONS": ",".join(ids)}).subscriptions
    except SettingsError as error:
        message = str(error).removeprefix("PATCH_SUBSCRIPTIONS: ")
        raise BadInput(f"{what}: a subscription the app cannot manage: {message}") from error


def _refuse_taken_port(port: int) -> None:
    """Refuse a port another server holds before Azurite and the simulator start. The host
    binds as this probe does (SO_REUSEADDR, as http.server), so what passes here binds
    there unless someone takes it in between, which `serving` still refuses."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise BadInput(
                f"--port: cannot serve on {HOST}:{port}: {error.strerror or error}"
            ) from error


@contextmanager
def serving(
    document: dict[str, Any],
    *,
    subscriptions: tuple[str, ...] | None = None,
    planning: Settings | None = None,
    port: int = 0,
    clock_speed: float = 1.0,
    function_key: str | None = None,
) -> Iterator[Serving]:
    """Azurite, the fleet simulator over HTTPS and the app on the local host, on one clock
    `clock_speed` times real time; the app manages `subscriptions` (default: the fleet's).
    `document` is a fleet file's JSON. BadInput when something cannot start, after
    stopping what did; everything is stopped on the way out."""
    from activities.deps import Deps, reset_deps, use_deps
    from azure_io.compute import ComputeAdapter
    from azure_io.settings import ArmCredentialKind, TableStorage
    from fleetsim.clock import ScaledClock
    from fleetsim.fleet import FleetError as SimulatorFleetError
    from fleetsim.server import start_simulator
    from patchctl.local_tables import opened_tables, started_azurite

    if subscriptions is None:
        subscriptions = fleet_subscriptions(_parsed(document, "the fleet"))
    if not _one_server.acquire(blocking=False):
        raise RuntimeError(
            "a server runs in this process already; the app's dependencies are global"
        )
    with ExitStack() as stack:
        stack.callback(_one_server.release)
        clock = ScaledClock(clock_speed)
        tables = stack.enter_context(started_azurite())
        try:
            simulator = stack.enter_context(start_simulator(document, clock=clock))
        except (SimulatorFleetError, RecursionError) as error:
            raise BadInput(f"the fleet simulator refused the fleet: {error}") from error
        except OSError as error:
            raise BadInput(f"cannot start the fleet simulator: {error}") from error
        settings = dataclasses.replace(
            planning or Settings(),
            subscriptions=subscriptions,
            arm_endpoint=simulator.base_url,
            arm_ca_bundle=Path(simulator.ca_path),
            arm_credential=ArmCredentialKind.STATIC,
            table_storage=TableStorage(connection_string=tables.connection_string),
        )
        store = opened_tables(settings, where="Azurite")
        compute = ComputeAdapter.from_settings(settings)
        stack.callback(compute.close)
        use_deps(Deps(settings=settings, compute=compute, store=store, clock=clock))
        stack.callback(reset_deps)
        host = stack.enter_context(_started_host(clock, port, function_key))
        yield Serving(host, simulator, tables.port, clock, settings)


@contextmanager
def _started_host(clock: ScaledClock, port: int, function_key: str | None) -> Iterator[LocalHost]:
    # Imported only now: the app's modules are what every other command avoids paying for.
    import function_app
    from devhost.app_loader import AppLoadError, loaded, read_host_json
    from devhost.host import LocalHost

    try:
        host_json = read_host_json(Path(function_app.__file__).parent / "host.json")
        host = LocalHost(
            loaded(function_app.app, host_json=host_json),
            clock=clock,
            port=port,
            function_key=function_key,
        )
    except AppLoadError as error:
        raise BadInput(f"cannot load the function app: {error}") from error
    except OSError as error:
        raise BadInput(f"--port: cannot serve on {HOST}:{port}: {error}") from error
    with host:
        yield host
