"""Loading user configuration files into the strict pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from synthgate.errors import ConfigError, InputError
from synthgate.schemas.chain_config import ChainConfig
from synthgate.validators.codes import check_prefixes


def load_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON file holding one mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: not valid YAML/JSON: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def validation_message(path: Path, err: ValidationError) -> str:
    """pydantic errors as `file: key.path: message` lines."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{path}: {loc}: {e['msg']}")
    return "\n".join(lines)


def load_chain_config(
    path: str | Path | ChainConfig | None, *, tokenizer: str | None = None, max_length: int | None = None
) -> ChainConfig:
    """A ChainConfig from an optional file (or a ChainConfig), with command-line overrides applied on top."""
    if isinstance(path, ChainConfig):
        data, path = path.model_dump(), None
    else:
        path = Path(path) if path is not None else None
        data = load_mapping(path) if path else {}
    length = dict(data.get("length") or {})
    if tokenizer is not None:
        length["tokenizer"] = tokenizer
    if max_length is not None:
        length["max_length"] = max_length
    if length:
        data["length"] = length
    where = path or Path("<options>")
    try:
        config = ChainConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(validation_message(where, err)) from None
    try:
        # Codes live in validators/codes.py, which schemas/ may not import: checked here, at load.
        check_prefixes(config.severity_overrides)
    except ValueError as err:
        raise ConfigError(f"{where}: severity_overrides: {err}") from None
    return config


def read_text_option(value: str | None, option: str) -> str | None:
    """`TEXT` as is, or `@FILE` read from disk."""
    if value is None or not value.startswith("@"):
        return value
    p = Path(value[1:])
    try:
        return p.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {option} file: {err}", path=str(p)) from None
