"""Starts Azurite's Table service (from the repo's npm install) for tests and rehearsals.

    with AzuriteTables() as azurite:
        TableServiceClient.from_connection_string(azurite.connection_string)

It listens on a free 127.0.0.1 port, keeps everything in memory and is stopped on exit,
so nothing needs to run beforehand and nothing is left behind.

A free port can be taken by someone else between choosing it and Azurite binding it, so
readiness is Azurite-specific (our process announced it started, and the port answers
with Azurite's ``Server`` header), a process that exits is reported at once with its
stderr, and a port found taken is replaced by a fresh one a few times.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXECUTABLE = REPO_ROOT / "node_modules" / ".bin" / "azurite-table"

# Azurite's well-known development account; Microsoft documents this key publicly.
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class AzuriteError(RuntimeError):
    """Azurite could not be started or did not answer in time."""


class _PortTaken(AzuriteError):
    """Azurite exited because something else holds its port."""


# Tries on fresh ports when the chosen one was taken before Azurite could bind it.
START_ATTEMPTS = 3
_STARTED = b"successfully started"  # what azurite-table prints once it listens
_ADDRESS_IN_USE = "EADDRINUSE"


def dev_connection_string(port: int, host: str = "127.0.0.1") -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={DEV_ACCOUNT_NAME};AccountKey={DEV_ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{port}/{DEV_ACCOUNT_NAME};"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def answers_as_azurite(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """True when an HTTP GET on the port is answered by Azurite (its ``Server`` header),
    not merely by some server: Azurite says 400 to a bare GET, naming itself."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        return (response.getheader("Server") or "").startswith("Azurite")
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


class AzuriteTables:
    """A running in-memory Azurite Table service; a context manager that starts and stops it."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        executable: Path = DEFAULT_EXECUTABLE,
        port: int | None = None,
        startup_timeout_seconds: float = 20.0,
    ) -> None:
        self._executable = executable
        self._fixed_port = port
        self.port = port or free_port(self.host)
        self._startup_timeout_seconds = startup_timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None
        # Files, not pipes: a pipe nobody reads could fill and stall Azurite. They live
        # as long as this object, so no `with` block fits.
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def connection_string(self) -> str:
        return dev_connection_string(self.port, self.host)

    def start(self) -> None:
        """Starts Azurite; a port given to the constructor is tried once, a chosen one is
        replaced by a fresh one (up to START_ATTEMPTS tries) when found taken."""
        if not self._executable.exists():
            raise AzuriteError(f"{self._executable} not found; run `npm ci` (make setup) first")
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._launch()
                return
            except _PortTaken as taken:
                if self._fixed_port is not None or attempt == START_ATTEMPTS:
                    raise AzuriteError(
                        f"port {self.host}:{self.port} is taken ({attempt} attempt(s)): {taken}"
                    ) from taken
                self.port = free_port(self.host)

    def _launch(self) -> None:
        for output in (self._stdout, self._stderr):
            output.seek(0)
            output.truncate()
        command = [
            str(self._executable),
            "--inMemoryPersistence",
            "--tableHost",
            self.host,
            "--tablePort",
            str(self.port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ]
        # Its own session: a Ctrl-C in a terminal signals the whole foreground process
        # group, and Azurite must not die before its owner (serve) stops in order.
        self._process = subprocess.Popen(
            command,
            stdout=self._stdout,
            stderr=self._stderr,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
        self._wait_until_answering()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> AzuriteTables:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self._stdout.close()
        self._stderr.close()

    def _wait_until_answering(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                self._stderr.seek(0)
                stderr = self._stderr.read().decode(errors="replace").strip()[-500:]
                if _ADDRESS_IN_USE in stderr:
                    raise _PortTaken(stderr)
                raise AzuriteError(f"azurite-table exited at start: {stderr}")
            # Ours announced it listens, and the port answers as Azurite: not some other
            # server (or another Azurite) that holds the port while ours fails to bind.
            if self._announced_start() and answers_as_azurite(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise AzuriteError(
            f"azurite-table did not answer on {self.host}:{self.port} "
            f"within {self._startup_timeout_seconds:g} s"
        )

    def _announced_start(self) -> bool:
        self._stdout.seek(0)
        return _STARTED in self._stdout.read()
