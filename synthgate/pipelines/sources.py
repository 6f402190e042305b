"""Source material: documents split into sentence-aligned, overlapping chunks with stable ids, or
the prompts of a dataset already in the store.

A chunk id hashes the document's name and the chunk's text, so the same file gives the same ids on
every run (resume depends on it) and an edit elsewhere in a file leaves other chunks' ids alone.
A source prompt's id hashes its system prompt and turns, so repeated prompts collapse into one.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synthgate.audit.inputs import data_suffix, open_binary
from synthgate.errors import ConfigError, InputError
from synthgate.pipelines.config import SourcesConfig
from synthgate.schemas.sample import Message

if TYPE_CHECKING:
    from synthgate.store import Store

# A sentence ends at . ! ? (optionally followed by a closing quote/bracket) before whitespace, or at
# a blank line (paragraphs and markdown headings end without punctuation).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+|\n\s*\n")
_WS = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Chunk:
    """One passage: `id` is stable across runs, `doc` names the document it came from."""

    id: str
    doc: str
    text: str


@dataclass(frozen=True)
class SourcePrompt:
    """One prompt of an existing dataset: `id` (`p_` + 12 hex), its system prompt and turns."""

    id: str
    system_prompt: str | None
    turns: tuple[Message, ...]


def load_prompts(store: Store, dataset_id: str) -> list[SourcePrompt]:
    """The distinct prompts of a stored dataset's readable records, in record order.

    The last turn must be the user's (a prompt the teacher can answer); other records are skipped.
    """
    prompts: dict[str, SourcePrompt] = {}
    for row in store.samples.iter(dataset_id):
        sample = row.sample
        if sample is None or not sample.prompt or sample.prompt[-1].role != "user":
            continue
        turns = [{"role": m.role, "content": m.content} for m in sample.prompt]
        key = json.dumps([sample.system_prompt, turns], ensure_ascii=False)
        pid = "p_" + hashlib.sha256(key.encode()).hexdigest()[:12]
        prompts.setdefault(pid, SourcePrompt(pid, sample.system_prompt, tuple(sample.prompt)))
    if not prompts:
        raise ConfigError(
            f"sources.prompts: dataset {dataset_id} has no readable record ending in a user turn",
            hint="Audit a dataset of prompts first (`synthgate audit`), then pass its id.",
        )
    return list(prompts.values())


def split_sentences(text: str) -> list[str]:
    """Sentences and paragraph-level pieces, whitespace-normalised, empties dropped.

    >>> split_sentences("One. Two!\\n\\n# Head\\nThree?")
    ['One.', 'Two!', '# Head Three?']
    """
    return [piece for piece, _ in _pieces(text)]


def _pieces(text: str) -> list[tuple[str, str]]:
    """(sentence, separator to the next one): a paragraph break stays a newline in chunk text."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.start() if m else len(text)
        # The lookbehind keeps the punctuation in the sentence; a closing quote is matched too.
        piece = text[pos : m.end() if m else len(text)] if m and m.group(0)[:1] in "\"')]" else text[pos:end]
        piece = _WS.sub(" ", piece.replace("\n", " ")).strip()
        if piece:
            out.append((piece, "\n" if m and "\n\n" in m.group(0).replace(" ", "") else " "))
        pos = m.end() if m else len(text)
    return out


def chunk_text(
    doc: str,
    text: str,
    chunk_size: int,
    overlap_sentences: int,
    min_chars: int = 1,
    measure: Callable[[str], int] = len,
) -> list[Chunk]:
    """Sentence-aligned chunks of about `chunk_size`, each starting with the previous chunk's last
    `overlap_sentences` sentences. A sentence longer than `chunk_size` is a chunk of its own.
    Sizes are `measure(sentence)` (characters by default; a token counter gives token-sized chunks)
    plus one per sentence break.

    >>> [c.text for c in chunk_text("d", "A a. B b. C c. D d.", 10, 1)]
    ['A a. B b.', 'B b. C c.', 'C c. D d.']
    """
    pieces = _pieces(text)
    sentences = [p for p, _ in pieces]
    sizes = [measure(p) for p in sentences]
    chunks: list[Chunk] = []
    start = 0
    while start < len(sentences):
        end, size = start, 0
        while end < len(sentences) and (end == start or size + 1 + sizes[end] <= chunk_size):
            size += sizes[end] + (1 if end > start else 0)
            end += 1
        body = "".join(p + sep for p, sep in pieces[start:end]).strip()
        if len(body) >= min_chars:
            chunks.append(Chunk(id=chunk_id(doc, body), doc=doc, text=body))
        if end >= len(sentences):
            break
        # Overlap, but always advance by at least one sentence so the loop ends.
        start = max(start + 1, end - overlap_sentences)
    return chunks


def chunk_id(doc: str, text: str) -> str:
    """`c_` + 12 hex of sha256(document name, text)."""
    return "c_" + hashlib.sha256(f"{doc}\n{text}".encode()).hexdigest()[:12]


def load_chunks(config: SourcesConfig, base: Path) -> list[Chunk]:
    """Every chunk of every document matched by `config.documents` (sorted paths), or one per topic."""
    chunks: list[Chunk] = []
    size, measure = _chunk_measure(config, base)
    for path in _document_paths(config.documents, base):
        name = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
        for i, text in enumerate(_read_texts(path, config.text_field)):
            doc = name if i == 0 else f"{name}#{i}"
            chunks.extend(
                chunk_text(doc, text, size, config.overlap_sentences, config.min_chunk_chars, measure)
            )
    for topic in config.topics:
        chunks.append(Chunk(id=chunk_id("topic", topic), doc=f"topic:{topic}", text=topic))
    if not chunks and config.prompts is not None:
        return []
    if not chunks:
        raise ConfigError(
            f"sources: no chunks from documents {config.documents} (relative to {base})",
            hint="Check the glob patterns, or lower sources.min_chunk_chars.",
        )
    # Documents matched twice by overlapping globs must not give duplicate chunks.
    return list({c.id: c for c in chunks}.values())


def _chunk_measure(config: SourcesConfig, base: Path) -> tuple[int, Callable[[str], int]]:
    """(chunk size, sentence measure): characters, or tokens of `config.tokenizer` with chunk_tokens."""
    if config.chunk_tokens is None or not config.documents:
        return config.chunk_chars, len
    from synthgate.models.embedded import DEFAULT_SPECS, load_tokenizer

    spec = config.tokenizer
    if spec not in DEFAULT_SPECS and not Path(spec).expanduser().is_absolute():  # type: ignore[arg-type]
        spec = str(base / spec)
    tokenizer = load_tokenizer(spec)

    def tokens(sentence: str) -> int:
        return len(tokenizer(sentence, add_special_tokens=False)["input_ids"])

    return config.chunk_tokens, tokens


def _document_paths(patterns: list[str], base: Path) -> list[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        matches = [Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file()]
        if not matches:
            raise ConfigError(f"sources.documents: {pattern!r} matches no file (relative to {base})")
        found.update(m.resolve() for m in matches)
    return sorted(found)


def _read_texts(path: Path, text_field: str) -> list[str]:
    # Compressed documents (doc.md.gz, docs.jsonl.zst) are decompressed on the fly.
    if data_suffix(path) != ".jsonl":
        try:
            with open_binary(path) as f:
                return [f.read().decode("utf-8")]
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read document: {err}", path=str(path)) from None
    texts = []
    with open_binary(path) as f:
        for n, raw in enumerate(f, start=1):
            texts.append(_jsonl_text(path, n, raw, text_field))
    return [t for t in texts if t is not None]


def _jsonl_text(path: Path, n: int, raw: bytes, text_field: str) -> str | None:
    """The text of line `n` of a .jsonl document; None for a blank line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"cannot read document: {err}", path=str(path), record=n) from None
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON: {err.msg}", path=str(path), record=n) from None
    text = record.get(text_field) if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise InputError("no text", path=str(path), record=n, field=text_field)
    return text
