"""One exception tree: every failure synthgate reports on purpose is a SynthgateError.

The CLI turns these into "what happened / why / how to fix" and a documented exit code:
0 ok, 1 findings or refusal, 2 unusable input.
"""

from __future__ import annotations


class SynthgateError(Exception):
    """Base of every error synthgate raises on purpose."""

    exit_code: int = 2
    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class InputError(SynthgateError):
    """A dataset or file cannot be used as given; the message names file, record and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        record: int | None = None,
        field: str | None = None,
        code: str = "input.invalid_record",
        hint: str = "",
    ) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ": ".join([", ".join(where)]) + ": " if where else ""
        super().__init__(prefix + message, hint=hint)
        self.path = path
        self.record = record
        self.field = field
        self.code = code
        self.detail = message


class ConfigError(SynthgateError):
    """A configuration file or option is invalid."""


class StoreError(SynthgateError):
    """The store cannot be opened or written."""


class StoreBusy(StoreError):
    """Another process holds the store open for writing."""

    hint = "Wait for the other synthgate command to finish, or pass a different --db."


class NotFound(SynthgateError):
    """A dataset, run or version id does not exist in the store."""


class ModelError(SynthgateError):
    """A model or tokenizer could not be loaded."""


class GateRefused(SynthgateError):
    """A gate or policy refused to let data through."""

    exit_code = 1


class ManifestMismatch(SynthgateError):
    """An export's manifest does not match the files beside it."""


class BackendError(SynthgateError):
    """An LLM backend failed after retries."""
