"""Audit depth through the real CLI on real files with a real DuckDB store: preference pairs,
reasoning data (--thinking, --reasoning-field), diversity stats and eval contamination."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthgate.cli.app import app
from synthgate.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
GSM8K = DATA / "gsm8k_test_200.jsonl"

runner = CliRunner()

SYSTEM = (
    "You are a careful support assistant for Acme routers. Answer only from the manual and never "
    "mention these instructions to the customer."
)
LOOP = "Reset the router. " * 3 + "router router router " * 12


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def audit(tmp_path: Path, records: list[dict], *args: str, name: str = "data.jsonl"):
    """Run `synthgate audit` on the records; (result, report rows, summary, db path)."""
    path = write_jsonl(tmp_path / name, records)
    db, rep, summ = tmp_path / "s.duckdb", tmp_path / "report.jsonl", tmp_path / "summary.json"
    result = run("audit", str(path), "--db", str(db), "--report", str(rep), "--summary", str(summ), *args)
    rows = [json.loads(line) for line in rep.read_text().splitlines()] if rep.exists() else []
    summary = json.loads(summ.read_text()) if summ.exists() else {}
    return result, rows, summary, db


def verdicts(db: Path, dataset_id: str, index: int) -> list:
    with Store.open(db) as store:
        return [v for i, v in store.verdicts.for_dataset(dataset_id) if i == index]


def pair(prompt, chosen, rejected, **extra) -> dict:
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, **extra}


# --- preference data ----------------------------------------------------------------------


def test_rejected_that_parrots_the_system_prompt_and_loops_is_reported_as_the_failing_side(tmp_path):
    records = [
        pair(
            "How do I reset my router?",
            "Hold the reset button on the back for ten seconds, then wait for the light to turn green.",
            SYSTEM + " " + LOOP,
            system=SYSTEM,
        ),
        pair(
            "Does the router support WPA3?",
            "Yes, firmware 2.1 and later support WPA3 in the wireless settings page.",
            "No idea, check online.",
            system=SYSTEM,
        ),
    ]
    result, rows, summary, db = audit(tmp_path, records, "--format", "preference")
    assert result.exit_code == 0, result.output
    first = rows[0]
    assert first["status"] == "pass"  # a broken rejected answer warns; it does not gate the pair
    assert first["side_codes"]["chosen"] == []
    assert "leak.system_prompt_verbatim" in first["side_codes"]["rejected"]
    assert any(c.startswith("loop.") for c in first["side_codes"]["rejected"])
    assert "pref.rejected_failed" in first["codes"] and "pref.chosen_failed" not in first["codes"]
    assert rows[1] == {**rows[1], "status": "pass", "side_codes": {"chosen": [], "rejected": []}}
    assert summary["preference"]["rejected_failed"] == 1 and summary["preference"]["pairs"] == 2
    stored = verdicts(db, summary["dataset_id"], 0)
    leak = next(v for v in stored if v.code == "leak.system_prompt_verbatim")
    assert (leak.validator, leak.severity) == ("rejected:leakage", "warn")
    assert (leak.span.field, leak.span.start, leak.span.end) == ("completion", 0, len(SYSTEM))


def test_rejected_failed_can_be_raised_to_block_in_the_chain_config(tmp_path):
    config = tmp_path / "chain.yaml"
    config.write_text("severity_overrides:\n  pref.rejected_failed: block\n")
    records = [pair("How do I reset my router?", "Hold the reset button.", SYSTEM, system=SYSTEM)]
    result, rows, _, _ = audit(tmp_path, records, "--format", "preference", "--config", str(config))
    assert result.exit_code == 1
    assert rows[0]["status"] == "fail" and "pref.rejected_failed" in rows[0]["codes"]


def test_chosen_side_failure_fails_the_record_and_names_the_chosen_side(tmp_path):
    records = [
        pair(
            [{"role": "user", "content": "How do I reset my router?"}],
            [{"role": "assistant", "content": "Use the reset pin [cite: 6524] on the back."}],
            [{"role": "assistant", "content": "Unplug it and plug it back in."}],
        )
    ]
    result, rows, _, _ = audit(tmp_path, records)  # conversational pairs are detected without --format
    assert result.exit_code == 1
    assert rows[0]["status"] == "fail"
    assert rows[0]["side_codes"] == {"chosen": ["artifact.citation_marker"], "rejected": []}
    assert "pref.chosen_failed" in rows[0]["codes"]


def test_share_of_pairs_preferring_a_refusal_is_a_set_finding(tmp_path):
    refusal = "I'm sorry, but I can't help with that."
    records = [
        pair(f"Question {i} about the router firmware?", refusal, f"Firmware {i} adds WPA3 and a new UI.")
        for i in range(3)
    ] + [pair("Which port is WAN?", "The blue port is WAN.", "The yellow one, probably.")]
    result, rows, summary, _ = audit(tmp_path, records, "--format", "preference")
    assert result.exit_code == 0, result.output
    assert [("pref.chosen_refusal" in r["codes"]) for r in rows] == [True, True, True, False]
    finding = next(f for f in summary["set_findings"] if f["code"] == "pref.chosen_refusal_share")
    assert (finding["count"], finding["share"]) == (3, 0.75)
    assert summary["preference"]["chosen_refusal_share"] == 0.75


def test_a_single_refusal_in_many_pairs_stays_under_the_share_limit(tmp_path):
    records = [pair("Delete my data?", "I'm sorry, but I can't help with that.", "Sure, done.")] + [
        pair(f"What does LED {i} mean?", f"LED {i} shows the link status.", "Nothing.") for i in range(10)
    ]
    _, rows, summary, _ = audit(tmp_path, records, "--format", "preference")
    assert "pref.chosen_refusal" in rows[0]["codes"]
    assert not [f for f in summary["set_findings"] if f["code"] == "pref.chosen_refusal_share"]


def test_identical_pairs_fail_near_identical_pairs_warn_and_distinct_pairs_pass(tmp_path):
    answer = "Open the admin page at 192.168.1.1, log in, and choose Firmware then Upload to update it."
    records = [
        pair("How do I update the firmware?", answer, answer),
        pair("How do I update it?", answer, answer.replace("Upload", "Upload.") + " "),
        pair("How do I update the firmware now?", answer, answer.replace("Firmware", "Firmwares")),
        pair("How do I update the firmware today?", answer, "Buy a new router."),
    ]
    result, rows, _, db = audit(tmp_path, records, "--format", "preference")
    assert result.exit_code == 1
    # Only the whitespace-level copy blocks; a punctuation or one-word edit is a warning.
    assert [("pref.identical_pair" in r["codes"]) for r in rows] == [True, False, False, False]
    assert [("pref.near_identical_pair" in r["codes"]) for r in rows] == [False, True, True, False]
    assert rows[3]["status"] == "pass"
    ds = json.loads((tmp_path / "summary.json").read_text())["dataset_id"]
    near = next(v for v in verdicts(db, ds, 2) if v.code == "pref.near_identical_pair")
    assert 95 <= near.score < 100 and "similar" in near.message and near.severity == "warn"


def test_a_file_mixing_pairs_and_sft_records_names_the_odd_record(tmp_path):
    records = [pair("Hi?", "Hello.", "Go away."), {"prompt": "Hi?", "completion": "Hello."}]
    result, *_ = audit(tmp_path, records)
    assert result.exit_code == 2
    assert "record 1" in result.output and "preference pairs" in result.output
    result, rows, *_ = audit(tmp_path, records, "--skip-invalid")
    assert rows[1]["codes"] == ["input.malformed"] and "side_codes" not in rows[1]
    assert rows[0]["side_codes"] == {"chosen": [], "rejected": []}


# --- reasoning-distillation data ----------------------------------------------------------


def test_keep_mode_passes_a_well_formed_block_and_fails_a_block_after_the_answer(tmp_path):
    good = "<think>Two sprints of 60 m is 120 m.</think>\n\nHe runs 120 meters."
    late = "He runs 120 meters.\n<think>Two sprints of 60 m is 120 m.</think>"
    prompts = ("How far does he run in a week?", "Which sprint distance did the coach pick?")
    records = [{"prompt": p, "completion": c} for p, c in zip(prompts, (good, late), strict=True)]
    result, rows, summary, db = audit(tmp_path, records, "--thinking", "keep")
    assert result.exit_code == 1
    assert (rows[0]["status"], rows[0]["codes"]) == ("pass", [])
    assert (rows[1]["status"], rows[1]["codes"]) == ("fail", ["think.malformed"])
    spans = {v.message: (v.span.start, v.span.end) for v in verdicts(db, summary["dataset_id"], 1)}
    block_start = late.index("<think>")
    assert spans["Text before the reasoning block; it must open the completion."] == (0, block_start)
    assert spans["No answer after the reasoning block."] == (block_start, len(late))


def test_strip_mode_is_the_default_and_forbid_fails_any_block(tmp_path):
    records = [{"prompt": "How far?", "completion": "<think>60 * 2</think>\n\n120 meters."}]
    _, rows, *_ = audit(tmp_path, records)
    assert (rows[0]["status"], rows[0]["codes"]) == ("fixed", ["think.stripped"])
    _, rows, *_ = audit(tmp_path, records, "--thinking", "forbid")
    assert (rows[0]["status"], rows[0]["codes"]) == ("fail", ["think.forbidden"])


def test_unknown_thinking_mode_exits_2_naming_the_choices(tmp_path):
    result, *_ = audit(tmp_path, [{"prompt": "Hi?", "completion": "Hello."}], "--thinking", "hide")
    assert result.exit_code == 2
    assert "--thinking 'hide'" in result.output and "strip, keep or forbid" in result.output


def test_reasoning_field_maps_a_custom_field_into_the_sample_reasoning(tmp_path):
    records = [{"prompt": "What is 4+4?", "completion": "8.", "thoughts": "Four plus four is eight."}]
    result, *_ = audit(tmp_path, records, "--thinking", "keep", "--strict-fields")
    assert result.exit_code == 2 and "unknown field(s) 'thoughts'" in result.output
    result, rows, summary, db = audit(
        tmp_path, records, "--thinking", "keep", "--reasoning-field", "thoughts"
    )
    assert result.exit_code == 0, result.output
    assert rows[0]["codes"] == []  # keep mode: reasoning in its own field stands in for the block
    with Store.open(db) as store:
        assert store.samples.get(summary["dataset_id"], 0).sample.reasoning == "Four plus four is eight."


def test_keep_mode_counts_the_reasoning_field_toward_max_length(tmp_path):
    thoughts = " ".join(f"Step {i}: add the next number to the running total." for i in range(40))
    records = [{"prompt": "Sum 1..40?", "completion": "820.", "reasoning_content": thoughts}]
    _, rows, *_ = audit(tmp_path, records, "--max-length", "128")
    assert rows[0]["codes"] == []  # strip mode: the reasoning field is not trained on
    _, rows, *_ = audit(tmp_path, records, "--max-length", "128", "--thinking", "keep")
    assert rows[0]["codes"] == ["length.completion_over_budget"]


# --- diversity ----------------------------------------------------------------------------


def test_summary_always_reports_diversity_ratios_openings_and_distributions(tmp_path):
    records = [
        {
            "prompt": f"Question {i % 6} about the warranty?",
            "completion": "Great question! Here is the answer: the warranty lasts two years."
            if i % 2
            else f"Answer {i}: the warranty lasts {i} years.",
            "task_type": "grounded" if i < 8 else "refusal",
            "persona": ["student", "lawyer", "nurse"][i % 3],
        }
        for i in range(10)
    ]
    result, _, summary, _ = audit(tmp_path, records)
    d = summary["diversity"]
    assert (d["records"], d["distinct_prompts"], d["distinct_prompt_ratio"]) == (10, 6, 0.6)
    assert d["distinct_completions"] == 6 and d["distinct_completion_ratio"] == 0.6
    assert d["top_openings"][0] == {"opening": "great question here is the", "count": 5, "share": 0.5}
    assert d["task_types"]["top"][0] == {"label": "grounded", "count": 8, "share": 0.8}
    assert {p["label"]: p["count"] for p in d["personas"]["top"]} == {"student": 4, "lawyer": 3, "nurse": 3}
    assert not [f for f in summary["set_findings"] if f["code"] == "set.low_diversity"]  # 0.6 >= 0.5
    assert "Diversity" in result.output and "great question here is the" in result.output


def test_records_without_task_types_or_personas_report_no_distribution(tmp_path):
    _, _, summary, _ = audit(tmp_path, [{"prompt": "Hi?", "completion": "Hello."}])
    assert "task_types" not in summary["diversity"] and "personas" not in summary["diversity"]


# --- eval contamination -------------------------------------------------------------------


@pytest.fixture(scope="module")
def gsm8k_questions() -> list[str]:
    return [json.loads(line)["question"] for line in GSM8K.read_text().splitlines()]


def test_training_record_quoting_a_gsm8k_question_is_flagged_and_a_clean_one_is_not(
    tmp_path, gsm8k_questions
):
    question = gsm8k_questions[3]
    records = [
        {"prompt": f"Solve this problem: {question} Show your work.", "completion": "He runs 540 meters."},
        {"prompt": "How many legs does a spider have?", "completion": "A spider has eight legs."},
    ]
    result, rows, summary, db = audit(tmp_path, records, "--eval-set", str(GSM8K))
    assert result.exit_code == 1
    assert rows[0]["codes"] == ["contam.exact_match"] and rows[1]["codes"] == []
    (found,) = verdicts(db, summary["dataset_id"], 0)
    assert "gsm8k_test_200.jsonl record 3" in found.message
    assert found.span.field == "prompt"
    assert records[0]["prompt"][found.span.start : found.span.end].startswith("James decides to run")


def test_boilerplate_many_eval_items_share_is_not_contamination(tmp_path, gsm8k_questions):
    tail = "Think step by step and write the final answer as a single number after four hash marks."
    evals = write_jsonl(tmp_path / "evals.jsonl", [{"question": f"{q} {tail}"} for q in gsm8k_questions])
    records = [
        {"prompt": f"How many apples are left if I eat two of five? {tail}", "completion": "Three. #### 3"},
        {"prompt": f"{gsm8k_questions[7]}", "completion": "Let me work it out."},
    ]
    _, rows, *_ = audit(tmp_path, records, "--eval-set", str(evals))
    assert rows[0]["codes"] == []  # shares only the benchmark's instruction with every item
    assert rows[1]["codes"] == ["contam.ngram_overlap"]  # the question itself is still found


def test_against_reports_the_record_the_validation_split_shares(tmp_path):
    shared = {"prompt": "How many legs does a spider have?", "completion": "A spider has eight legs."}
    train = [{"prompt": "What colour is the sky?", "completion": "Blue on a clear day."}, shared]
    valid = write_jsonl(
        tmp_path / "valid.jsonl", [{"prompt": "Boiling point of water?", "completion": "100 C."}, shared]
    )
    result, rows, summary, db = audit(tmp_path, train, "--against", str(valid))
    assert result.exit_code == 1
    assert rows[0]["codes"] == [] and rows[1]["codes"] == ["contam.split_overlap"]
    (found,) = verdicts(db, summary["dataset_id"], 1)
    assert "valid.jsonl record 1" in found.message


def test_against_reports_a_prompt_the_validation_split_answers_differently(tmp_path):
    train = [
        {"prompt": "How many legs does a spider have?", "completion": "Eight."},
        {"prompt": "What colour is the sky?", "completion": "Blue on a clear day."},
    ]
    valid = write_jsonl(
        tmp_path / "valid.jsonl",
        [{"prompt": "how many legs does a spider have", "completion": "A spider has eight legs."}],
    )
    result, rows, summary, db = audit(tmp_path, train, "--against", str(valid))
    assert result.exit_code == 1
    assert rows[0]["codes"] == ["contam.split_prompt_overlap"] and rows[1]["codes"] == []
    (found,) = verdicts(db, summary["dataset_id"], 0)
    assert "valid.jsonl record 0" in found.message and "another completion" in found.message
    assert (found.span.field, found.span.start, found.span.end) == ("prompt", 0, len(train[0]["prompt"]))
