"""The package's public API is exactly `synthgate.__all__`, importable, and light to import."""

import subprocess
import sys

import synthgate

EXPECTED = {
    # the library functions, one per command (the CLI calls them)
    "audit",
    "generate",
    "create_version",
    "check_gate",
    "export",
    "train",
    # what `audit` returns
    "AuditResult",
    "RecordReport",
    # the schema types records and findings are made of
    "ChainConfig",
    "Message",
    "Sample",
    "SetFinding",
    "Span",
    "Verdict",
    # the exception tree
    "SynthgateError",
    "BackendError",
    "ConfigError",
    "GateRefused",
    "InputError",
    "ManifestMismatch",
    "ModelError",
    "NotFound",
    "StoreBusy",
    "StoreError",
    "__version__",
}


def test_all_is_exactly_the_public_api():
    assert len(synthgate.__all__) == len(set(synthgate.__all__))
    assert set(synthgate.__all__) == EXPECTED


def test_all_names_are_importable():
    for name in synthgate.__all__:
        assert hasattr(synthgate, name), name


def test_every_public_exception_is_exported():
    import synthgate.errors as errors

    public = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    assert public - {"Exception"} <= set(synthgate.__all__)


def test_importing_synthgate_loads_no_torch_transformers_duckdb_or_pandas():
    code = (
        "import sys, synthgate; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'transformers', 'duckdb', 'pandas', 'datasets'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_synthgate_audit_stays_the_function_after_its_machinery_is_imported():
    import synthgate.audit.runner  # noqa: F401 - the subpackage shares the name
    from synthgate.audit import report  # noqa: F401

    assert callable(synthgate.audit) and synthgate.audit.__module__ == "synthgate.api.audits"
    from synthgate import audit

    assert audit is synthgate.api.audit
