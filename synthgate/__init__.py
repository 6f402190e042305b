"""synthgate: a data-quality gate for synthetic fine-tuning data.

>>> import synthgate
>>> result = synthgate.audit("train.jsonl")  # doctest: +SKIP
>>> result.to_pandas()  # doctest: +SKIP

The names in `__all__` are the public API; everything else is reached through its module.
"""

import importlib

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
from synthgate.schemas.chain_config import ChainConfig

# `synthgate.audit` names both the function and the subpackage holding its machinery. Importing the
# subpackage first lets the function keep the attribute: a later `import synthgate.audit.runner`
# finds the package in sys.modules and no longer sets it. (Import the machinery with
# `from synthgate.audit.runner import ...`; `synthgate.audit` is the function.)
importlib.import_module("synthgate.audit")

from synthgate.api import (  # noqa: E402 - after the subpackage import above, on purpose
    AuditResult,
    RecordReport,
    audit,
    check_gate,
    create_version,
    export,
    generate,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "AuditResult",
    "BackendError",
    "ChainConfig",
    "ConfigError",
    "GateRefused",
    "InputError",
    "ManifestMismatch",
    "Message",
    "ModelError",
    "NotFound",
    "RecordReport",
    "Sample",
    "SetFinding",
    "Span",
    "StoreBusy",
    "StoreError",
    "SynthgateError",
    "Verdict",
    "__version__",
    "audit",
    "check_gate",
    "create_version",
    "export",
    "generate",
    "train",
]
