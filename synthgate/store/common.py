"""Small helpers shared by the table modules: ids, timestamps, JSON, and the secrets guard."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

# A key *ending* in one of these words names a credential: `api_key`, `openai_api_key`, `apiKey`,
# `auth_token`, `client_secret`, `password`. Keys that merely mention one are settings, not secrets:
# `api_key_env` (the variable's name), `api_key_severity`, `max_tokens`, the `secrets` config section.
_SECRET_KEY = re.compile(
    r"(?:^|[_\-.])(?:api_?key|apikey|access_?key|secret_?key|private_?key|token|secret|password|passwd)$"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def new_id(prefix: str) -> str:
    """`prefix` + 12 random hex digits, e.g. `ds_0123456789ab`."""
    return prefix + secrets.token_hex(6)


def utcnow() -> datetime:
    """Now in UTC, naive: DuckDB TIMESTAMP columns hold UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


def as_utc(value: datetime | None) -> datetime | None:
    """A stored (naive UTC) timestamp as an aware UTC datetime."""
    return value.replace(tzinfo=UTC) if value is not None else None


def dumps(value: Any) -> str | None:
    """Compact JSON for a JSON column; None stays SQL NULL."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def reject_secrets(value: Any, where: str) -> None:
    """Raise ValueError when `value` holds a credential under a key named like one.

    Defence in depth: configs keep secrets in environment variables and store only the variable's
    name, so a non-empty `api_key`/`token`/`secret`/`password` here is a bug upstream.

    >>> reject_secrets({"backend": {"api_key_env": "OPENAI_API_KEY"}}, "options")
    >>> reject_secrets({"backend": {"api_key": "sk-123"}}, "options")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: options.backend.api_key looks like a secret; ...
    """
    for path, key, item in _walk(value, where):
        if _looks_secret(key) and _is_filled(item):
            raise ValueError(
                f"{path} looks like a secret; the store never keeps credentials. Keep it in an "
                "environment variable and store the variable's name (e.g. api_key_env) instead."
            )


def _walk(value: Any, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}"
            yield sub, str(key), item
            yield from _walk(item, sub)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def _looks_secret(key: str) -> bool:
    return bool(_SECRET_KEY.search(_CAMEL.sub("_", key).lower()))


def _is_filled(item: Any) -> bool:
    if item is None or isinstance(item, bool | int | float):
        return False
    if isinstance(item, str):
        # A masked pydantic SecretStr ("**********") is not the secret itself.
        return bool(item.strip().strip("*"))
    return bool(item)
