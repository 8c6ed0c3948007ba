"""Secrets (SASL password, TLS key password) never reach a repr or an error message."""

from __future__ import annotations

from typing import Any

import pytest

from kafkarpc import ConfigurationError, KafkaRpcError, RpcClient, Security

pytestmark = pytest.mark.anyio

_PASSWORD = "pw-7f3a-never-shown"
_KEY_PASSWORD = "kp-91c2-never-shown"


def _texts(exc: BaseException) -> list[str]:
    """Everything an error shows: its message, repr, and those of its causes."""
    texts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return texts


def test_security_repr_hides_both_passwords() -> None:
    security = Security(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        username="billing-svc",
        password=_PASSWORD,
        key_password=_KEY_PASSWORD,
    )
    for text in (repr(security), str(security), f"{security}"):
        assert "billing-svc" in text
        assert _PASSWORD not in text
        assert _KEY_PASSWORD not in text


@pytest.mark.parametrize(
    ("security", "config", "problem"),
    [
        (
            Security(
                protocol="SSL",
                certificate_location="/nonexistent/client.pem",
                key_location="/nonexistent/client.key",
                key_password=_KEY_PASSWORD,
            ),
            None,
            "ssl.certificate.location",
        ),
        (
            Security(protocol="SASL_SSL", sasl_mechanism="PLAIN", username="u", password=_PASSWORD),
            {"sasl.mechanism": "BOGUS"},
            "Unsupported SASL mechanism",
        ),
        (
            Security(
                protocol="SASL_SSL",
                sasl_mechanism="PLAIN",
                username="u",
                password=_PASSWORD,
                ca_location="/nonexistent/ca.pem",
            ),
            None,
            "ssl.ca.location",
        ),
    ],
)
async def test_a_bad_config_error_names_the_problem_not_the_secret(
    security: Security, config: dict[str, Any] | None, problem: str
) -> None:
    # librdkafka refuses these when the client is built, before any connection.
    client = RpcClient("127.0.0.1:1", service="secrets", security=security, config=config)
    with pytest.raises(ConfigurationError) as caught:
        await client.start()
    assert problem in str(caught.value)
    for text in _texts(caught.value):
        assert _PASSWORD not in text
        assert _KEY_PASSWORD not in text


def test_security_rejects_a_missing_password_without_echoing_the_rest() -> None:
    with pytest.raises(KafkaRpcError) as caught:
        Security(
            protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-256",
            username="u",
            key_password=_KEY_PASSWORD,
        )
    assert "needs username and password" in str(caught.value)
    assert _KEY_PASSWORD not in repr(caught.value)
