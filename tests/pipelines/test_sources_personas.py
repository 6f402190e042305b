"""Chunking (sentence-aligned, overlapping, stable ids), personas, and balanced persona x task plans."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from synthgate.errors import ConfigError
from synthgate.pipelines.config import SourcesConfig
from synthgate.pipelines.personas import BalancedPlan, builtin_personas, load_personas
from synthgate.pipelines.sources import chunk_text, load_chunks


def test_chunks_end_on_sentence_boundaries_and_overlap_by_one_sentence():
    text = "Alpha is first. Beta comes second! Gamma is third? Delta ends it."
    chunks = chunk_text("doc.md", text, chunk_size=35, overlap_sentences=1)
    assert [c.text for c in chunks] == [
        "Alpha is first. Beta comes second!",
        "Beta comes second! Gamma is third?",
        "Gamma is third? Delta ends it.",
    ]


def test_chunk_ids_are_stable_and_depend_on_document_and_text():
    a = chunk_text("a.md", "One sentence here. Another one there.", 1000, 0)
    assert a == chunk_text("a.md", "One sentence here. Another one there.", 1000, 0)
    assert a[0].id != chunk_text("b.md", "One sentence here. Another one there.", 1000, 0)[0].id
    assert a[0].id.startswith("c_") and len(a[0].id) == 14


def test_documents_in_txt_md_and_jsonl_are_chunked(tmp_path):
    (tmp_path / "a.txt").write_text("Plain text sentence one is here. And a second sentence.")
    (tmp_path / "b.md").write_text("# Title\n\nMarkdown sentence one is here. Another markdown sentence.")
    (tmp_path / "c.jsonl").write_text(
        '{"text": "Record one sentence is long enough."}\n{"text": "Record two."}\n'
    )
    cfg = SourcesConfig(documents=["*.txt", "*.md", "*.jsonl"], min_chunk_chars=5)
    chunks = load_chunks(cfg, tmp_path)
    assert [c.doc for c in chunks] == ["a.txt", "b.md", "c.jsonl", "c.jsonl#1"]
    assert chunks[1].text.startswith("# Title\nMarkdown sentence one")


def test_compressed_documents_give_the_chunks_of_the_plain_ones(tmp_path):
    import gzip
    import lzma
    import shutil

    gsm8k = Path(__file__).resolve().parents[1] / "data" / "gsm8k_test_200.jsonl"
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    plain.mkdir()
    packed.mkdir()
    shutil.copy(gsm8k, plain / "gsm8k.jsonl")
    (packed / "gsm8k.jsonl.gz").write_bytes(gzip.compress(gsm8k.read_bytes()))
    (plain / "notes.md").write_text("# Notes\n\nA first sentence is here. A second one follows.")
    (packed / "notes.md.xz").write_bytes(lzma.compress((plain / "notes.md").read_bytes()))
    cfg = SourcesConfig(documents=["*.jsonl*", "*.md*"], text_field="question", min_chunk_chars=5)
    want, got = load_chunks(cfg, plain), load_chunks(cfg, packed)
    assert [c.text for c in got] == [c.text for c in want] and len(got) >= 200
    assert got[0].doc == "gsm8k.jsonl.gz" and got[-1].doc == "notes.md.xz"


def test_a_glob_matching_nothing_names_the_pattern(tmp_path):
    with pytest.raises(ConfigError, match=r"sources.documents: 'nope/\*.md' matches no file"):
        load_chunks(SourcesConfig(documents=["nope/*.md"]), tmp_path)


def test_there_are_at_least_24_distinct_builtin_personas_across_roles_expertise_and_tones():
    personas = builtin_personas()
    assert len(personas) >= 24 and len({p.id for p in personas}) == len(personas)
    assert len({p.role for p in personas}) >= 4 and len({p.expertise for p in personas}) == 3
    assert len({p.tone for p in personas}) >= 2


def test_a_persona_file_is_loaded_and_bad_entries_are_named(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text(
        "- {role: nurse, expertise: expert, tone: terse}\n"
        "- {id: kid, role: child, expertise: novice, tone: curious}\n"
    )
    assert [p.id for p in load_personas("p.yaml", tmp_path)] == ["nurse-expert-terse", "kid"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {role: nurse, expertise: expert}\n")
    with pytest.raises(ConfigError, match=r"entry 1 needs string role, expertise and tone"):
        load_personas("bad.yaml", tmp_path)


def test_balanced_plan_follows_the_task_mix_and_fills_persona_x_task_cells_evenly():
    personas = builtin_personas()
    plan = BalancedPlan({"grounded": 0.6, "synthesis": 0.2, "refusal": 0.2}, personas, seed=3)
    jobs = [plan.task(i) for i in range(360)]
    assert Counter(t for t, _ in jobs) == {"grounded": 216, "synthesis": 72, "refusal": 72}
    cells = Counter((t, plan.persona(t, k).id) for t, k in jobs)
    assert len(cells) == 3 * len(personas)
    assert {n for (t, _), n in cells.items() if t == "grounded"} == {6}
    assert {n for (t, _), n in cells.items() if t != "grounded"} == {2}
    # Deterministic: a second plan (a resumed run) gives the same jobs.
    again = BalancedPlan({"grounded": 0.6, "synthesis": 0.2, "refusal": 0.2}, personas, seed=3)
    assert [(again.task(i), again.persona(*again.task(i)).id) for i in range(50)] == [
        (jobs[i], plan.persona(*jobs[i]).id) for i in range(50)
    ]


def test_chunk_tokens_sizes_chunks_by_the_tokenizer_not_by_characters(tmp_path, gemma_tokenizer):
    sentences = [f"Sentence number {i} talks about adapters, ranks and quantization." for i in range(12)]
    (tmp_path / "a.md").write_text(" ".join(sentences))
    by_tokens = load_chunks(SourcesConfig(documents=["a.md"], chunk_tokens=40, overlap_sentences=0), tmp_path)
    by_chars = load_chunks(SourcesConfig(documents=["a.md"], chunk_chars=400, overlap_sentences=0), tmp_path)

    def tokens(text):
        return len(gemma_tokenizer(text, add_special_tokens=False)["input_ids"])

    per_sentence = tokens(sentences[0])
    assert 10 < per_sentence <= 20
    assert all(tokens(c.text) <= 40 for c in by_tokens)
    assert [c.text.count("Sentence") for c in by_tokens] == [40 // (per_sentence + 1)] * len(by_tokens)
    assert [c.text for c in by_tokens] != [c.text for c in by_chars]
