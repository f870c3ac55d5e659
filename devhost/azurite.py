"""Starts Azurite's Table service (from the repo's npm install) for tests and rehearsals.

    with AzuriteTables() as azurite:
        TableServiceClient.from_connection_string(azurite.connection_string)

It listens on a free 127.0.0.1 port, keeps everything in memory and is stopped on exit,
so nothing needs to run beforehand and nothing is left behind.
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
        self.port = port or free_port(self.host)
        self._startup_timeout_seconds = startup_timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: a pipe nobody reads could fill and stall Azurite. It lives
        # as long as this object, so no `with` block fits.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def connection_string(self) -> str:
        return dev_connection_string(self.port, self.host)

    def start(self) -> None:
        if not self._executable.exists():
            raise AzuriteError(f"{self._executable} not found; run `npm ci` (make setup) first")
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
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._stderr, cwd=REPO_ROOT
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
        self._stderr.close()

    def _wait_until_answering(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                self._stderr.seek(0)
                stderr = self._stderr.read().decode(errors="replace")
                raise AzuriteError(f"azurite-table exited at start: {stderr.strip()[-500:]}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise AzuriteError(
            f"azurite-table did not answer on {self.host}:{self.port} "
            f"within {self._startup_timeout_seconds:g} s"
        )

    def _answers(self) -> bool:
        # Any HTTP answer (Azurite says 400 to a bare GET) means it is serving.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            connection.close()
