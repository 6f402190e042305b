"""Eval metrics on hand-written answers (fast), and one real three-arm run on the embedded model (slow)."""

from __future__ import annotations

import os

# oneDNN's AMX path dies with "Illegal instruction" on these Xeons; set before torch loads.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")

import json  # noqa: E402
from dataclasses import asdict  # noqa: E402
from importlib import resources  # noqa: E402

import pytest  # noqa: E402
from test_manifest import flip_one_byte, write_export  # noqa: E402

import synthgate.models.student as student  # noqa: E402
from synthgate.errors import InputError, ManifestMismatch  # noqa: E402
from synthgate.training.config import TrainConfig  # noqa: E402
from synthgate.training.eval import (  # noqa: E402
    METRIC_NAMES,
    EvalQuestion,
    Generation,
    OutputScorer,
    Shot,
    build_messages,
    evaluate_arms,
    keyword_coverage,
    load_eval_questions,
    pick_shots,
    score_arm,
    shots_from_export,
    write_report,
)
from synthgate.training.sft import train  # noqa: E402

SYSTEM = (
    "You are a research assistant. Answer only from the provided context and cite the paper title. "
    "If the context does not contain enough information, say so."
)
GROUNDED = EvalQuestion(
    question="What does QLoRA quantize?",
    context="QLoRA quantizes the frozen base model to 4-bit NormalFloat.",
    expected_keywords=["4-bit", "NormalFloat", "frozen"],
    task_type="grounded",
    system_prompt=SYSTEM,
)
REFUSAL = EvalQuestion(
    question="What did QLoRA cost?",
    context="QLoRA quantizes the frozen base model to 4-bit NormalFloat.",
    task_type="refusal",
    system_prompt=SYSTEM,
)
ANSWER = "QLoRA: Efficient Finetuning keeps the FROZEN base model in 4-bit precision."
DECLINE = "The provided context does not contain enough information to say what QLoRA cost."


def scored(item: EvalQuestion, text: str):
    return OutputScorer().score(item, text)


def test_keyword_coverage_is_the_case_insensitive_share_found():
    assert keyword_coverage(ANSWER, GROUNDED.expected_keywords) == pytest.approx(2 / 3)
    assert keyword_coverage(ANSWER, []) is None


def test_reciting_the_system_prompt_is_parroting_with_its_leak_code():
    score = scored(GROUNDED, SYSTEM + " " + ANSWER)
    assert score.parroted is True and "leak.system_prompt_verbatim" in score.codes


def test_a_refusal_sharing_the_prompts_vocabulary_is_not_parroting():
    score = scored(REFUSAL, DECLINE)
    assert score.parroted is False and score.refused is True and score.codes == []


def test_parroting_does_not_apply_without_a_system_prompt():
    item = GROUNDED.model_copy(update={"system_prompt": None})
    assert scored(item, SYSTEM).parroted is None
    assert score_arm([item], [Generation(SYSTEM, 1.0)]).parroting_rate is None


def test_invented_follow_up_questions_are_looping():
    text = ANSWER + "\nQuestion: What is LoRA?\nAnswer: LoRA trains adapters.\nQuestion: What is DPO?"
    score = scored(GROUNDED, text)
    assert score.looped is True and "loop.extra_qa_pair" in score.codes


def test_bullets_in_a_prose_task_fail_format_and_unjudged_task_types_do_not_count():
    bullets = "QLoRA uses:\n- 4-bit NormalFloat\n- a frozen base model"
    assert scored(GROUNDED, bullets).format_ok is False
    assert scored(GROUNDED, ANSWER).format_ok is True
    assert scored(GROUNDED.model_copy(update={"task_type": "code"}), bullets).format_ok is None


def test_refusal_accuracy_recall_and_false_refusals_over_an_arm():
    items = [GROUNDED, GROUNDED, REFUSAL, REFUSAL]
    answers = [ANSWER, DECLINE, DECLINE, "QLoRA cost a lot of money, the 4-bit paper says."]
    gens = [Generation(a, 0.5, stopped=n != 3) for n, a in enumerate(answers)]

    m = score_arm(items, gens)

    assert (m.refusal_accuracy, m.refusal_recall, m.false_refusal_rate) == (0.5, 0.5, 0.5)
    assert m.keyword_coverage == pytest.approx((2 / 3 + 0) / 2)  # refusal items carry no keywords
    assert m.mean_words == pytest.approx(sum(len(a.split()) for a in answers) / 4)
    assert (m.mean_latency_s, m.truncated_rate, m.looping_rate, m.format_compliance) == (0.5, 0.25, 0.0, 1.0)


def test_score_arm_needs_one_answer_per_item():
    with pytest.raises(ValueError, match=r"1 answers for 2 eval items"):
        score_arm([GROUNDED, REFUSAL], [Generation(ANSWER, 0.1)])


def test_few_shot_examples_become_prior_turns_after_the_system_prompt():
    messages = build_messages(GROUNDED, [Shot("Q1?", "A1."), Shot("Q2?", "A2.")])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[1:5] == [
        {"role": "user", "content": "Q1?"},
        {"role": "assistant", "content": "A1."},
        {"role": "user", "content": "Q2?"},
        {"role": "assistant", "content": "A2."},
    ]
    assert messages[-1]["content"] == f"Context:\n{GROUNDED.context}\n\nQuestion: {GROUNDED.question}"


def test_shots_are_drawn_deterministically_from_a_verified_export(tmp_path):
    write_export(tmp_path / "export", n_train=8)
    shots = shots_from_export(tmp_path / "export", k=3)
    assert len(shots) == 3 and shots == shots_from_export(tmp_path / "export", k=3)
    assert shots != shots_from_export(tmp_path / "export", k=3, seed=1)
    assert all(s.user.startswith("What is ") and " is a training concept" in s.assistant for s in shots)
    pool = [Shot(f"q{i}", f"a{i}") for i in range(20)]
    assert pick_shots(pool, 5) == pick_shots(pool[::-1], 5)


def test_shots_are_refused_from_an_edited_export(tmp_path):
    write_export(tmp_path / "export")
    flip_one_byte(tmp_path / "export" / "train.jsonl")
    with pytest.raises(ManifestMismatch, match=r"train\.jsonl does not match the manifest"):
        shots_from_export(tmp_path / "export")


def test_a_bad_eval_line_names_the_line_and_field(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps({"question": "Q?", "task_type": "grounded"}) + "\n" + '{"context": "c"}\n')
    with pytest.raises(InputError, match=r"eval\.jsonl, record 2, field 'question': Field required"):
        load_eval_questions(path)
    path.write_text(json.dumps({"question": "Q?", "keywords": ["x"]}) + "\n")
    with pytest.raises(InputError, match=r"record 1, field 'keywords': Extra inputs are not permitted"):
        load_eval_questions(path)


def test_the_shipped_eval_set_loads_with_two_refusal_items():
    ref = resources.files("synthgate.training") / "examples" / "rag_eval.jsonl"
    with resources.as_file(ref) as path:
        items = load_eval_questions(path)
    assert 6 <= len(items) <= 8
    assert sum(i.task_type == "refusal" for i in items) == 2
    assert all(i.expected_keywords for i in items if i.task_type != "refusal")
    assert all(i.system_prompt and i.context for i in items)


def test_a_folder_without_an_adapter_is_refused_before_the_model_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(student, "load_causal_lm", lambda spec: pytest.fail("model loaded"))
    with pytest.raises(InputError, match=r"is not a LoRA adapter folder \(no adapter_config\.json\)"):
        evaluate_arms([GROUNDED], adapter=tmp_path)


@pytest.fixture(scope="session")
def adapter_dir(tmp_path_factory):
    """A trained adapter: the one tests/cli/test_train_cli.py trained this session, else a 1-step run."""
    shared = tmp_path_factory.getbasetemp() / "cli-trained-adapter"
    if (shared / "adapter_model.safetensors").is_file():
        return shared
    folder = tmp_path_factory.mktemp("eval-adapter")
    write_export(folder / "export", n_train=4, n_eval=0)
    train(folder / "export", None, folder / "adapter", TrainConfig(max_steps=1, logging_steps=1))
    return folder / "adapter"


@pytest.mark.slow
def test_three_arms_on_the_embedded_model_produce_every_metric(adapter_dir, tmp_path):
    shots = [Shot("Context:\nLoRA freezes the base.\n\nQuestion: What is frozen?", "The base model is.")]

    report = evaluate_arms([GROUNDED, REFUSAL], None, adapter=adapter_dir, shots=shots, max_new_tokens=16)

    assert [a.name for a in report.arms] == ["zero_shot", "few_shot", "adapter"]
    for arm in report.arms:
        metrics = asdict(arm.metrics)
        assert set(metrics) == {"items", *METRIC_NAMES}
        assert None not in metrics.values(), arm.name  # both items have a system prompt, one refuses
        assert metrics["items"] == 2 and metrics["mean_latency_s"] > 0 and metrics["mean_words"] > 0
        assert [o["index"] for o in arm.outputs] == [0, 1] and all(o["text"] for o in arm.outputs)
    assert report.settings["k"] == 1 and report.settings["adapter"] == str(adapter_dir)
    saved = json.loads(write_report(report, tmp_path / "results.json").read_text())
    assert saved["arms"]["adapter"]["metrics"] == asdict(report.arm("adapter").metrics)
