"""The library API: one function per command, each taking that command's options.

    audit           synthgate audit            -> AuditResult (records, summary, set findings)
    generate        synthgate generate         -> RunState
    create_version  synthgate version create   -> VersionInfo
    check_gate      (the gate `export` runs)   -> GateResult
    export          synthgate export           -> ExportResult
    train           synthgate train            -> TrainResult (plan_train: train --plan)

The commands in synthgate/cli/ parse options, call these, and render what they return. Nothing
heavy is imported until a function runs (no duckdb, torch or transformers at import time).
"""

from synthgate.api.audits import AuditResult, RecordReport, audit
from synthgate.api.generation import generate
from synthgate.api.training import plan_train, train, train_config
from synthgate.api.versions import check_gate, create_version, export

__all__ = [
    "AuditResult",
    "RecordReport",
    "audit",
    "check_gate",
    "create_version",
    "export",
    "generate",
    "plan_train",
    "train",
    "train_config",
]
