"""Security settings for a real cluster, as one small value object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ._exceptions import ConfigurationError

__all__ = ["Security"]

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Security:
    """How to authenticate to and encrypt traffic with the cluster.

    >>> Security(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
    ...          username="svc", password="secret").to_librdkafka()["sasl.mechanism"]
    'SCRAM-SHA-512'
    """

    protocol: Protocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_location: str | None = None
    certificate_location: str | None = None
    key_location: str | None = None
    key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ConfigurationError(f"unknown security protocol {self.protocol!r}")
        sasl = self.protocol.startswith("SASL")
        if sasl and self.sasl_mechanism is None:
            raise ConfigurationError(f"protocol {self.protocol} needs sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ConfigurationError(
                f"sasl_mechanism is set but protocol {self.protocol} is not SASL"
            )
        needs_password = self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if needs_password and not (self.username and self.password):
            raise ConfigurationError(f"SASL {self.sasl_mechanism} needs username and password")

    def to_librdkafka(self) -> dict[str, str]:
        conf = {"security.protocol": self.protocol.lower()}
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
            "ssl.ca.location": self.ca_location,
            "ssl.certificate.location": self.certificate_location,
            "ssl.key.location": self.key_location,
            "ssl.key.password": self.key_password,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        return conf
