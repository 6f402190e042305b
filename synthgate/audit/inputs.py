"""What a PATH argument names, and the bytes of each file: compression, several files, hub folders.

Two layers under the readers:

- `open_binary(path)` gives a file's bytes, decompressed on the fly when the file is gzip, bzip2,
  xz or zstd (told by its extension, `train.jsonl.gz`, or by its first bytes, a `.jsonl` that is
  really gzip). Nothing is decompressed to disk or held whole; a corrupt stream is an InputError
  naming the file.
- `resolve_inputs(specs, split=...)` turns files, folders, globs and several of them into one
  sorted list of shards (an `InputSet`): a folder of shards, a Hugging Face hub snapshot
  (`data/train-00000-of-00004.parquet`, splits as subfolders or file-name prefixes) or a `datasets`
  save_to_disk folder, with `split` picking one split.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from synthgate.errors import InputError

# Compression suffix -> codec name; the suffix before it names the data format (train.jsonl.gz).
COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))
# Data files a folder or glob contributes as shards; anything else in a folder (README.md,
# .gitattributes, dataset_info.json) is not data.
DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv", ".arrow")
# Metadata files a hub snapshot or a datasets folder holds beside the data.
METADATA_FILES = frozenset({"dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json"})
# Folder or file-name prefixes the hub treats as split names (besides the NAME-00000-of-00004 form).
SPLIT_WORDS = frozenset({"train", "training", "test", "testing", "validation", "valid", "val", "dev", "eval"})
DEFAULT_SPLIT = "train"
_SHARD_NAME = re.compile(r"^(?P<split>.+?)-\d+-of-\d+$")  # the hub's train-00000-of-00004
_WORD_PREFIX = re.compile(r"^(?P<word>[A-Za-z]+)(?:[-_.]|$)")
_GLOB_CHARS = re.compile(r"[*?\[]")
_CHUNK = 1 << 20


# --- compressed files ------------------------------------------------------------------------


def compression_of(path: str | Path) -> str | None:
    """The codec of a file: told by its first bytes, else by its extension; None for plain files."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(6)
    except OSError:
        head = b""
    for magic, codec in _MAGIC:
        if head.startswith(magic):
            return codec
    return COMPRESSIONS.get(p.suffix.lower())


def data_suffix(path: str | Path) -> str:
    """The data format's suffix: `.jsonl` for train.jsonl.gz and train.jsonl, '' when there is none."""
    p = Path(path)
    if p.suffix.lower() in COMPRESSIONS:
        p = p.with_suffix("")
    return p.suffix.lower()


def open_binary(path: str | Path) -> BinaryIO:
    """The file's bytes, streamed and decompressed when it is compressed (see `compression_of`).

    Reading a corrupt or truncated stream raises InputError naming the file and the codec.
    """
    p = Path(path)
    codec = compression_of(p)
    if codec is None:
        return p.open("rb")
    return io.BufferedReader(_Decompressed(p, codec), buffer_size=_CHUNK)  # type: ignore[return-value]


class _Decompressed(io.RawIOBase):
    """A codec's decompressing reader whose errors become an InputError naming the file."""

    def __init__(self, path: Path, codec: str) -> None:
        self.path, self.codec, self.done = path, codec, 0
        self._raw = path.open("rb")
        if codec == "gzip":
            self._inner: BinaryIO = gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[assignment]
        elif codec == "bzip2":
            self._inner = bz2.BZ2File(self._raw)  # type: ignore[assignment]
        elif codec == "xz":
            self._inner = lzma.LZMAFile(self._raw)  # type: ignore[assignment]  # noqa: SIM115 - closed in close()
        else:
            self._inner = _ZstdReader(self._raw)  # type: ignore[assignment]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        try:
            n = self._inner.readinto(buffer)
        except (OSError, EOFError, zlib.error, lzma.LZMAError, _zstd_error()) as err:
            msg = (
                f"is not a valid {self.codec} file: {err} (after {self.done} decompressed bytes); "
                "the file is corrupt or was cut short (an interrupted download?)"
            )
            raise InputError(msg, path=str(self.path), code="input.malformed") from None
        self.done += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            self._raw.close()
        super().close()


class _ZstdReader(io.RawIOBase):
    """zstd frames decompressed one input block at a time; a frame cut short is an EOFError.

    zstandard's stream_reader returns a clean end of file for a truncated frame, so frames are
    followed here with decompressobj (which knows when a frame ended) and its unused data.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = None
        self._out = memoryview(b"")
        self._unused = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        while not self._out:
            data, self._unused = self._unused or self._raw.read(1 << 16), b""
            if not data:
                if self._obj is not None:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
                return 0
            if self._obj is None:
                self._obj = self._dctx.decompressobj()
            self._out = memoryview(self._obj.decompress(data))
            if self._obj.eof:  # the frame ended inside `data`: a next frame may follow
                self._unused, self._obj = self._obj.unused_data, None
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


def _zstd_error() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


# --- several files, folders, globs, hub snapshots --------------------------------------------


@dataclass(frozen=True)
class InputSet:
    """The shards a PATH argument names, in reading order, and how they were chosen.

    `shards` are sorted paths (a `datasets` save_to_disk folder is one shard); `split` is the split
    picked in a hub or save_to_disk folder, None when the input has no splits.
    """

    specs: tuple[str, ...]
    shards: tuple[Path, ...]
    split: str | None = None

    @property
    def source(self) -> str:
        """The input as the user named it, for the store's source_path."""
        text = " ".join(self.specs)
        return f"{text} (split {self.split})" if self.split else text

    @property
    def name(self) -> str:
        """A short display name: the file or folder name (and split), or the glob."""
        names = [s if _GLOB_CHARS.search(s) else (Path(s).name or s) for s in self.specs]
        text = ", ".join(names)
        return f"{text} ({self.split})" if self.split else text

    def sha256(self, shard_hashes: Sequence[str] | None = None) -> str | None:
        """One shard: its file_sha256, as for a single file always. Several: sha256 over the
        (path relative to the shards' common folder, sha256) pairs, so moving the folder keeps it."""
        hashes = shard_hashes if shard_hashes is not None else [file_sha256(p) for p in self.shards]
        if len(self.shards) == 1:
            return hashes[0]
        root = Path(os.path.commonpath([p.resolve().parent for p in self.shards]))
        h = hashlib.sha256()
        for p, sha in zip(self.shards, hashes, strict=True):
            h.update(f"{p.resolve().relative_to(root).as_posix()}\t{sha}\n".encode())
        return h.hexdigest()


def resolve_inputs(
    specs: str | Path | Sequence[str | Path],
    split: str | None = None,
    default_split: str | None = DEFAULT_SPLIT,
) -> InputSet:
    """Files, folders and globs -> one InputSet of sorted shards.

    A folder is a `datasets` save_to_disk folder (read as one), else every data file under it;
    when those files carry split names (hub layout: `train-00000-of-00002.parquet`, `test.jsonl`,
    `train/` subfolders) `split` picks one, else `default_split` when present, else the only one.
    Raises InputError naming the spec when nothing matches or the split is ambiguous.
    """
    if isinstance(specs, str | Path):
        specs = [specs]
    texts = tuple(str(s) for s in specs)
    if not texts:
        raise InputError("no input given: name a file, a folder or a glob", code="input.malformed")
    found: set[Path] = set()
    chosen: set[str] = set()
    for spec in texts:
        shards, picked = _expand(spec, split, default_split)
        found.update(shards)
        if picked is not None:
            chosen.add(picked)
    if split is not None and not chosen:
        raise InputError(
            f"--split {split!r} was given but {', '.join(texts)} holds no splits", code="input.malformed"
        )
    return InputSet(texts, tuple(sorted(found, key=lambda p: p.as_posix())), split or _one(chosen))


def _one(chosen: set[str]) -> str | None:
    return next(iter(chosen)) if len(chosen) == 1 else None


def _expand(spec: str, split: str | None, default_split: str | None) -> tuple[list[Path], str | None]:
    p = Path(spec)
    if p.exists():
        if p.is_dir():
            return _folder(p, split, default_split)
        return [p], None
    if _GLOB_CHARS.search(spec):
        matches = sorted(Path(m) for m in glob.glob(spec, recursive=True) if Path(m).is_file())
        if not matches:
            raise InputError(f"the glob {spec!r} matches no file", code="input.malformed")
        return matches, None
    raise InputError("no such file or folder", path=spec, code="input.malformed")


def _folder(path: Path, split: str | None, default_split: str | None) -> tuple[list[Path], str | None]:
    if (path / "dataset_dict.json").exists():
        return _datasets_dict(path, split, default_split)
    if (path / "state.json").exists():
        return [path], None  # a datasets save_to_disk folder of one split
    files = sorted(
        f
        for f in path.rglob("*")
        if f.is_file()
        and data_suffix(f) in DATA_SUFFIXES
        and f.name not in METADATA_FILES
        and not any(part.startswith(".") for part in f.relative_to(path).parts)
    )
    if not files:
        # The reader refuses it with the list of supported inputs.
        return [path], None
    splits: dict[str | None, list[Path]] = {}
    for f in files:
        splits.setdefault(split_of(f.relative_to(path)), []).append(f)
    if list(splits) == [None]:
        if split is not None:
            raise InputError(
                f"--split {split!r}: the folder's files carry no split names",
                path=str(path),
                code="input.malformed",
            )
        return files, None
    if None in splits:
        loose = ", ".join(f.relative_to(path).as_posix() for f in splits[None][:3])
        msg = (
            f"holds files of the splits {_names(splits)} and files with no split name ({loose}); "
            "pass the files to audit, or a glob"
        )
        raise InputError(msg, path=str(path), code="input.malformed")
    name = _pick_split(path, sorted(splits), split, default_split)  # type: ignore[arg-type]
    chosen = splits[name]
    homes = sorted({_config_folder(f.relative_to(path)) for f in chosen})
    if len(homes) > 1:
        msg = (
            f"split {name!r} is in several folders ({', '.join(homes)}), one per configuration; "
            "pass one of those folders"
        )
        raise InputError(msg, path=str(path), code="input.malformed")
    # One split that is no split word (part-00000-of-00004.jsonl) is a folder of shards, not a split.
    return chosen, name if len(splits) > 1 or name.lower() in SPLIT_WORDS else None


def split_of(relative: Path) -> str | None:
    """The split a file belongs to in a hub layout: its folder when that is a split word
    (`train/0000.parquet`), else its name (`train-00000-of-00002.parquet`, `test.jsonl`); None
    when neither names one (a plain folder of shards)."""
    if len(relative.parts) > 1 and relative.parts[-2].lower() in SPLIT_WORDS:
        return relative.parts[-2]
    stem = relative.name
    while Path(stem).suffix.lower() in (*COMPRESSIONS, *DATA_SUFFIXES):
        stem = Path(stem).stem
    if m := _SHARD_NAME.match(stem):
        return m.group("split")
    if (m := _WORD_PREFIX.match(stem)) and m.group("word").lower() in SPLIT_WORDS:
        return m.group("word")
    return None


def _config_folder(relative: Path) -> str:
    """The folder holding a split's files, less the split folder itself: one per configuration."""
    parts = relative.parts[:-1]
    if parts and parts[-1].lower() in SPLIT_WORDS:
        parts = parts[:-1]
    return "/".join(parts) or "."


def _pick_split(path: Path, names: list[str], split: str | None, default_split: str | None) -> str:
    if split is not None:
        if split not in names:
            raise InputError(
                f"has no split {split!r}; its splits are {', '.join(names)}",
                path=str(path),
                code="input.malformed",
            )
        return split
    if len(names) == 1:
        return names[0]
    if default_split is not None and default_split in names:
        return default_split
    msg = f"holds the splits {', '.join(names)}; pick one with --split NAME (or pass its files)"
    raise InputError(msg, path=str(path), code="input.malformed")


def _datasets_dict(path: Path, split: str | None, default_split: str | None) -> tuple[list[Path], str]:
    try:
        names = list(json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        msg = f"dataset_dict.json is not readable: {err}"
        raise InputError(msg, path=str(path), code="input.malformed") from None
    if split is None and default_split is not None and default_split not in names:
        msg = f"holds the splits {', '.join(names)} but no {default_split!r} split; pick one with --split"
        raise InputError(msg, path=str(path), code="input.malformed")
    name = _pick_split(path, names, split, default_split)
    return [path / name], name


def _names(splits: dict[str | None, list[Path]]) -> str:
    return ", ".join(sorted(s for s in splits if s is not None))


def file_sha256(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files in name order (a datasets save_to_disk folder)."""
    if not path.exists():
        return None
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode())
        with p.open("rb") as f:
            for block in iter(lambda f=f: f.read(_CHUNK), b""):
                h.update(block)
    return h.hexdigest()
