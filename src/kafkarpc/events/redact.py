"""A transform for broad-access copies of an event: secrets masked, text cut short.

ADR-001's ``prompt.submitted`` goes whole to a restricted ``cmd`` topic and as a
100-character preview, with secrets masked, to a broad ``evt`` topic. This is that
preview, as a plain function of the payload (``EventTarget(transform=...)``).
Masking is by pattern, so it catches the usual shapes of credentials, not every
secret a person can type: a restricted topic is still where the full text belongs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MASK", "mask_secrets", "redacted_preview"]

MASK = "[REDACTED]"

# Each pattern's first group, when it has one, is kept (the "password=" of
# "password=hunter2"); the rest of the match is masked.
_SECRETS = [
    re.compile(p)
    for p in (
        r"(?i)(\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\s*[:=]\s*)\S+",
        r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/-]+=*",
        r"\bsk-[A-Za-z0-9_-]{16,}",  # OpenAI / Anthropic style keys
        r"\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}",  # Slack tokens
        r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key ids
        r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",  # JWTs
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    )
]


def _masked(match: re.Match[str]) -> str:
    kept = match.group(1) if match.re.groups else ""
    return f"{kept}{MASK}"


def mask_secrets(text: str) -> str:
    """``text`` with credentials (key=value secrets, bearer tokens, API keys, JWTs,
    private keys) replaced by ``[REDACTED]``."""
    for pattern in _SECRETS:
        text = pattern.sub(_masked, text)
    return text


def _cut(text: str, limit: int) -> str:
    """``text[:limit]``, without the start of a mask the cut went through."""
    cut = text[:limit]
    start = cut.rfind(MASK[0])
    if start != -1 and cut[start:] != MASK and MASK.startswith(cut[start:]):
        return cut[:start]
    return cut


def redacted_preview(
    field: str, *, limit: int = 100, keep: tuple[str, ...] | None = None
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A transform replacing ``payload[field]`` by a masked preview of at most ``limit``
    characters (masked first, then cut, so a secret split by the cut is still masked).

    With ``keep``, the copy holds only those fields besides the preview. The
    result also says how long the original was (``{field}_length``) and whether it
    was cut (``{field}_truncated``).
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")

    def transform(payload: Mapping[str, Any]) -> dict[str, Any]:
        fields = payload if keep is None else {k: v for k, v in payload.items() if k in keep}
        copy = dict(fields)
        original = payload.get(field)
        if isinstance(original, str):
            masked = mask_secrets(original)
            copy[field] = _cut(masked, limit)
            copy[f"{field}_length"] = len(original)
            copy[f"{field}_truncated"] = len(masked) > limit
        return copy

    return transform
