"""librdkafka's connect errors become a short reason in BrokerUnavailable's message."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkarpc import BrokerUnavailable
from kafkarpc.transport.kafka.errors import connect_reason, unreachable
from kafkarpc.transport.kafka.readiness import ConnectWatch


@pytest.mark.parametrize(
    ("code", "text", "reason"),
    [
        (
            KafkaError._TRANSPORT,
            "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused "
            "(after 0ms in state CONNECT)",
            "connection refused",
        ),
        (
            KafkaError._RESOLVE,
            "nosuch.invalid:9092/bootstrap: Failed to resolve 'nosuch.invalid:9092': Name or "
            "service not known (after 2ms in state CONNECT)",
            "host name not resolved: Failed to resolve 'nosuch.invalid:9092': Name or service "
            "not known",
        ),
        (
            KafkaError._SSL,
            "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL "
            "routines::certificate verify failed: broker certificate could not be verified "
            "(after 3ms in state SSL_HANDSHAKE)",
            "TLS handshake failed: error:0A000086:SSL routines::certificate verify failed: "
            "broker certificate could not be verified; if the CA is right, check that the "
            "broker's certificate names the host it is reached at",
        ),
        (
            # The same failure, reported a third time as a bare OpenSSL error.
            KafkaError._TRANSPORT,
            "ssl://127.0.0.1:9093/bootstrap: error:0A000086:SSL routines::certificate verify "
            "failed (after 5ms in state SSL_HANDSHAKE)",
            "TLS handshake failed: error:0A000086:SSL routines::certificate verify failed; "
            "if the CA is right, check that the broker's certificate names the host it is "
            "reached at",
        ),
        (
            KafkaError._AUTHENTICATION,
            "sasl_ssl://b:9093/1: SASL authentication error: Authentication failed",
            "authentication failed: SASL authentication error: Authentication failed",
        ),
    ],
)
def test_connect_reason_keeps_what_matters(code: int, text: str, reason: str) -> None:
    assert connect_reason(KafkaError(code, text)) == reason


def test_unreachable_names_the_addresses_and_keeps_the_cause() -> None:
    error = KafkaError(
        KafkaError._TRANSPORT, "a:1/bootstrap: Connect to a:1 failed: Connection refused"
    )
    translated = unreachable("a:1,b:2", error)
    assert isinstance(translated, BrokerUnavailable)
    assert str(translated) == "brokers a:1,b:2 unreachable (connection refused)"
    assert isinstance(translated.__cause__, KafkaException)
    assert str(unreachable("a:1", None)) == "broker a:1 unreachable (every broker is down)"


def test_watch_remembers_the_last_reason_and_when_every_broker_is_down() -> None:
    watch = ConnectWatch()
    watch(KafkaError(KafkaError._RESOLVE, "x/bootstrap: Failed to resolve 'x'"))
    watch(KafkaError(KafkaError._SSL, "x/bootstrap: SSL handshake failed: bad"))
    assert not watch.all_down.is_set()
    watch(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert watch.all_down.is_set()
    reason = watch.reason
    assert reason is not None and reason.code() == KafkaError._SSL
