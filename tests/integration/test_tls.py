"""TLS for real: client and server through a TLS-terminating proxy (stunnel) in front
of the embedded broker, with certificates made here; a wrong CA or host name fails
at start with the certificate problem named, not a transport failure after a timeout.

Tansu itself only serves plaintext, so it advertises the proxy's port: every
connection librdkafka makes, bootstrap and after, goes through TLS.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from kafkarpc import BrokerUnavailable, RpcClient, RpcServer, Security, Topics, TopicTrio
from kafkarpc.testing import free_loopback_port, start_broker

_STUNNEL = shutil.which("stunnel") or shutil.which("stunnel4")
_OPENSSL = shutil.which("openssl")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        _STUNNEL is None or _OPENSSL is None,
        reason="needs stunnel and openssl (Debian: apt-get install stunnel4 openssl; .ci/run does)",
    ),
]

_GUARD_S = 60.0  # a hang guard only, never a timing assertion
_FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}


def _openssl(directory: Path, *args: str) -> None:
    assert _OPENSSL is not None
    subprocess.run([_OPENSSL, *args], cwd=directory, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> None:
    _openssl(
        directory,
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}"),
    )


def _make_server_cert(directory: Path, name: str, alt_names: str) -> None:
    """A certificate signed by ``ca``, valid for ``alt_names`` (subjectAltName syntax)."""
    _openssl(
        directory,
        *("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}"),
        *("-keyout", f"{name}.key", "-out", f"{name}.csr"),
    )
    (directory / f"{name}.ext").write_text(f"subjectAltName={alt_names}\n")
    _openssl(
        directory,
        *("x509", "-req", "-in", f"{name}.csr", "-days", "2", "-extfile", f"{name}.ext"),
        *("-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.pem"),
    )


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _GUARD_S
    while True:
        assert process.poll() is None, f"stunnel exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"stunnel did not listen on {port}"
            time.sleep(0.05)


def _start_stunnel(
    directory: Path, name: str, accept: int, connect: int
) -> subprocess.Popen[bytes]:
    """TLS on ``accept`` with certificate ``name``, forwarded as plaintext to ``connect``."""
    assert _STUNNEL is not None
    conf = directory / f"stunnel-{name}.conf"
    conf.write_text(
        f"foreground = yes\npid =\noutput = {directory / f'stunnel-{name}.log'}\n"
        f"[kafka]\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{connect}\n"
        f"cert = {directory / f'{name}.pem'}\nkey = {directory / f'{name}.key'}\n"
    )
    process = subprocess.Popen(
        [_STUNNEL, str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(accept, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


@dataclass
class TlsBroker:
    bootstrap: str  # TLS, with a certificate for 127.0.0.1 and localhost
    wrong_host_bootstrap: str  # TLS, with a certificate for another host name
    certs: Path

    def security(self, ca: str = "ca.pem") -> Security:
        return Security(protocol="SSL", ca_location=str(self.certs / ca))


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    certs = tmp_path_factory.mktemp("tls")
    _make_ca(certs, "ca")
    _make_ca(certs, "other-ca")  # trusted by nobody: the "wrong CA"
    _make_server_cert(certs, "broker", "IP:127.0.0.1,DNS:localhost")
    _make_server_cert(certs, "wrong-host", "DNS:wrong.example")
    tls_port, wrong_port = free_loopback_port(), free_loopback_port()
    broker = start_broker(advertised_port=tls_port)
    proxies: list[subprocess.Popen[bytes]] = []
    try:
        proxies.append(_start_stunnel(certs, "broker", tls_port, broker.port))
        proxies.append(_start_stunnel(certs, "wrong-host", wrong_port, broker.port))
        yield TlsBroker(f"127.0.0.1:{tls_port}", f"127.0.0.1:{wrong_port}", certs)
    finally:
        for proxy in proxies:
            proxy.terminate()
            proxy.wait()
        broker.stop()


async def test_round_trip_over_tls(tls_broker: TlsBroker, unique_topic_base: str) -> None:
    trio = TopicTrio.from_base(unique_topic_base)
    server = RpcServer(
        tls_broker.bootstrap,
        service="tls-responder",
        group_id=f"tls-{unique_topic_base}",
        topics=Topics(create=True),
        security=tls_broker.security(),
        config=dict(_FAST_GROUP),
    )

    @server.responder(trio)
    async def echo(payload: dict[str, str]) -> dict[str, str]:
        return {"echo": payload["text"]}

    with anyio.fail_after(_GUARD_S):
        async with (
            server,
            RpcClient(
                tls_broker.bootstrap, service="tls-client", security=tls_broker.security()
            ) as client,
        ):
            reply = await client.request(trio, {"text": "sealed"}, timeout=20)
    assert reply == {"echo": "sealed"}


async def test_an_untrusted_certificate_fails_start_naming_the_problem(
    tls_broker: TlsBroker,
) -> None:
    client = RpcClient(
        tls_broker.bootstrap, service="tls-client", security=tls_broker.security("other-ca.pem")
    )
    with anyio.fail_after(_GUARD_S), pytest.raises(BrokerUnavailable) as caught:
        await client.start()
    message = str(caught.value)
    assert message.startswith(f"broker {tls_broker.bootstrap} unreachable (TLS handshake failed:")
    assert "certificate verify failed" in message


async def test_a_certificate_for_another_host_fails_start_naming_the_problem(
    tls_broker: TlsBroker,
) -> None:
    server = RpcServer(
        tls_broker.wrong_host_bootstrap, service="tls-responder", security=tls_broker.security()
    )
    server.add_responder("tls.wrong.host", lambda payload: payload)  # start fails first
    with anyio.fail_after(_GUARD_S), pytest.raises(BrokerUnavailable) as caught:
        async with server:
            pass
    message = str(caught.value)
    assert "TLS handshake failed" in message
    assert "certificate verify failed" in message
    assert "names the host" in message
