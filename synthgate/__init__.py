"""synthgate: a data-quality gate for synthetic fine-tuning data."""

from synthgate.errors import (
    BackendError,
    ConfigError,
    GateRefused,
    InputError,
    ManifestMismatch,
    ModelError,
    NotFound,
    StoreBusy,
    StoreError,
    SynthgateError,
)
from synthgate.schemas import Message, Sample, SetFinding, Span, Verdict

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "ConfigError",
    "GateRefused",
    "InputError",
    "ManifestMismatch",
    "Message",
    "ModelError",
    "NotFound",
    "Sample",
    "SetFinding",
    "Span",
    "StoreBusy",
    "StoreError",
    "SynthgateError",
    "Verdict",
    "__version__",
]
