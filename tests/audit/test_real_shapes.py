"""The library audit on real public records in the shapes real files have: read as they are, fields
mapped, extra columns kept as metadata, tool calls and rendered templates checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import real_shapes
from real_shapes import GSM8K, SYSTEM

from synthgate.audit import report
from synthgate.audit.runner import AuditOptions, audit
from synthgate.errors import InputError
from synthgate.schemas.field_map import FieldNames
from synthgate.store import Store


def run_audit(tmp_path: Path, path: Path, **options) -> tuple[dict, dict[int, list], Store]:
    """(summary, index -> verdicts, store) of a library audit into a real DuckDB file."""
    store = Store.open(tmp_path / f"s{len(list(tmp_path.glob('*.duckdb')))}.duckdb")
    try:
        result = audit(path, store, AuditOptions(**options))
    except BaseException:
        store.close()
        raise
    found: dict[int, list] = {}
    for i, v in store.verdicts.for_dataset(result.dataset_id):
        found.setdefault(i, []).append(v)
    return report.summary(store, result.dataset_id), found, store


def sample(store: Store, summary: dict, index: int):
    return store.samples.get(summary["dataset_id"], index).sample


def test_alpaca_with_two_extra_columns_keeps_them_as_metadata_and_lists_them_once(tmp_path):
    path = real_shapes.alpaca_with_extra_columns(tmp_path / "alpaca.jsonl")
    summary, _, store = run_audit(tmp_path, path)
    with store:
        assert summary["records"] == 50
        assert summary["read_as"] == {"instruction/output": 50}
        assert summary["extra_fields"] == {"source_arxiv_id": 50}  # `type` is the task type, not extra
        first = sample(store, summary, 0)
        assert (first.task_type, first.metadata.extra) == ("general", {"source_arxiv_id": "2304.03277"})
        assert summary["diversity"]["task_types"]["top"][0] == {"label": "general", "count": 25, "share": 0.5}


def test_strict_fields_restores_the_unknown_field_error_naming_file_record_and_field(tmp_path):
    path = real_shapes.alpaca_with_extra_columns(tmp_path / "alpaca.jsonl")
    with pytest.raises(
        InputError, match=r"alpaca\.jsonl, record 0, field 'source_arxiv_id': unknown field"
    ) as e:
        run_audit(tmp_path, path, allow_extra_fields=False)
    assert e.value.code == "input.unknown_field"


def test_gsm8k_question_answer_maps_without_flags(tmp_path):
    summary, _, store = run_audit(tmp_path, real_shapes.DATA / "gsm8k_test_200.jsonl")
    with store:
        assert (summary["records"], summary["read_as"]) == (200, {"question/answer": 200})
        s = sample(store, summary, 0)
        assert (s.prompt[0].content, s.completion) == (GSM8K[0]["question"], GSM8K[0]["answer"])
        assert "extra_fields" not in summary


def test_prompt_response_and_dolly_files_map_their_fields(tmp_path):
    summary, _, store = run_audit(tmp_path, real_shapes.prompt_response(tmp_path / "pr.jsonl"))
    with store:
        assert summary["read_as"] == {"prompt/response": 30}
        assert sample(store, summary, 3).completion == GSM8K[3]["answer"]
    dolly = real_shapes.dolly(tmp_path / "dolly.jsonl")
    summary, _, store = run_audit(tmp_path, dolly)
    with store:
        assert summary["read_as"] == {"instruction/context/response": 30}
        with_context = next(i for i, r in enumerate(real_shapes.ALPACA[:30]) if r["input"])
        s = sample(store, summary, with_context)
        r = real_shapes.ALPACA[with_context]
        assert s.prompt[0].content == f"{r['instruction']}\n\n{r['input']}"  # context is the input passage
        assert s.task_type == "closed_qa"


def test_chatml_text_records_expose_the_system_prompt_its_leak_and_a_leftover_token(tmp_path):
    summary, found, store = run_audit(tmp_path, real_shapes.chatml_text(tmp_path / "chatml.jsonl"))
    with store:
        assert summary["read_as"] == {"text (chatml)": 20}
        s = sample(store, summary, 0)
        assert s.system_prompt == SYSTEM and s.completion == real_shapes.ALPACA[0]["output"]
        assert "leak.system_prompt_verbatim" in {v.code for v in found[1]}
        leftover = [v for v in found[2] if v.code == "artifact.special_token"]
        completion = sample(store, summary, 2).completion
        assert [completion[v.span.start : v.span.end] for v in leftover] == ["<|im_end|>"]
        assert leftover[0].span.start == len(real_shapes.ALPACA[2]["output"])


def test_openai_tool_call_conversations_are_read_and_their_arguments_checked(tmp_path):
    summary, found, store = run_audit(tmp_path, real_shapes.openai_tool_calls(tmp_path / "tools.jsonl"))
    with store:
        assert summary["records"] == 12 and summary["status_counts"].get("fail", 0) == 3
        codes = {i: sorted(v.code for v in vs) for i, vs in found.items()}
        assert codes.get(0) is None  # the completion is the call itself: a valid completion
        assert sample(store, summary, 0).completion.startswith('<tool_call>\n{"name": "calculator"')
        assert (codes[1], codes[2], codes[3]) == (
            ["tool.invalid_arguments"],
            ["tool.schema_violation"],
            ["tool.unknown_tool"],
        )
        assert all(v.span.field == "prompt" for i in (1, 2, 3) for v in found[i])
        s = sample(store, summary, 5)
        assert [m.role for m in s.prompt] == ["user", "assistant", "tool"]
        assert s.metadata.extra["tools"][0]["function"]["name"] == "calculator"


def test_sharegpt_function_call_files_are_read_with_tools_as_a_json_string(tmp_path):
    summary, found, store = run_audit(tmp_path, real_shapes.sharegpt_function_calls(tmp_path / "sg.jsonl"))
    with store:
        assert summary["read_as"] == {"conversations": 10}
        assert {i: [v.code for v in vs] for i, vs in found.items() if i != 1 and vs} == {}
        assert [v.code for v in found[1]] == ["tool.malformed_call"]
        turn = sample(store, summary, 1).prompt[1].content
        assert turn[found[1][0].span.start : found[1][0].span.end].startswith("calculator(")


def test_a_type_column_makes_template_collapse_fire_for_the_refusal_task_type(tmp_path):
    path = real_shapes.typed_refusals(tmp_path / "typed.jsonl")
    summary, _, store = run_audit(tmp_path, path)
    store.close()
    collapse = [f for f in summary["set_findings"] if f["code"] == "set.template_collapse"]
    assert [(f["details"]["task_type"], f["count"], f["details"]["records"]) for f in collapse] == [
        ("refusal", 400, 400)
    ]
    assert collapse[0]["details"]["opening"] == "im sorry but i cant"  # normalized words


def test_without_the_type_column_the_same_refusals_hide_in_the_whole_set(tmp_path):
    path = real_shapes.typed_refusals(tmp_path / "typed.jsonl")
    summary, _, store = run_audit(tmp_path, path, task_field="no_such_field", allow_extra_fields=True)
    store.close()
    # task_field names a column no record has; `type` still counts, so the finding stands.
    assert any(f["code"] == "set.template_collapse" for f in summary["set_findings"])
    untyped = tmp_path / "untyped.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    real_shapes.write_jsonl(untyped, [{k: v for k, v in r.items() if k != "type"} for r in rows])
    summary, _, store = run_audit(tmp_path, untyped)
    store.close()
    assert not any(f["code"] == "set.template_collapse" for f in summary["set_findings"])


def test_named_fields_read_a_file_no_common_name_fits(tmp_path):
    path = real_shapes.write_jsonl(
        tmp_path / "named.jsonl", [{"problem": r["question"], "solution": r["answer"]} for r in GSM8K[:5]]
    )
    with pytest.raises(InputError, match=r"named\.jsonl, record 0: no record format fits the keys"):
        run_audit(tmp_path, path)
    summary, _, store = run_audit(tmp_path, path, fields=FieldNames(prompt="problem", completion="solution"))
    with store:
        assert summary["read_as"] == {"problem/solution": 5}


def test_an_ambiguous_record_is_an_error_naming_both_readings(tmp_path):
    path = real_shapes.write_jsonl(
        tmp_path / "amb.jsonl",
        [{"prompt": GSM8K[0]["question"], "query": "eggs", "response": GSM8K[0]["answer"]}],
    )
    with pytest.raises(
        InputError,
        match=r"amb\.jsonl, record 0, field 'query': the record fits more than one shape: prompt/response",
    ) as e:
        run_audit(tmp_path, path)
    assert e.value.code == "input.malformed"


def test_a_json_line_nested_thousands_deep_is_input_malformed_naming_file_and_line(tmp_path):
    path = tmp_path / "deep.jsonl"
    deep = '{"prompt": "q", "completion": ' + "[" * 5000 + "]" * 5000 + "}"
    path.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n" + deep + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"deep\.jsonl, record 1: line 2 nests arrays/objects too deep") as e:
        run_audit(tmp_path, path)
    assert e.value.code == "input.malformed"
    summary, found, store = run_audit(tmp_path, path, skip_invalid=True)
    with store:
        assert [v.code for v in found[1]] == ["input.malformed"]
        assert summary["status_counts"]["fail"] == 1


def test_an_extra_column_nested_hundreds_deep_is_input_malformed_not_a_store_traceback(tmp_path):
    path = tmp_path / "deep.jsonl"
    column = "[" * 300 + "]" * 300  # json.loads reads it; the store could not write it back
    path.write_text('{"question": "2+2?", "answer": "4", "trace": ' + column + "}\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"record 0: line 1 nests arrays/objects too deep to read \(more than 64"
    ):
        run_audit(tmp_path, path)
    ok = tmp_path / "ok.jsonl"
    ok.write_text(
        '{"question": "2+2?", "answer": "4", "trace": ' + "[" * 60 + "]" * 60 + "}\n", encoding="utf-8"
    )
    summary, _, store = run_audit(tmp_path, ok)
    with store:
        assert summary["extra_fields"] == {"trace": 1}


def test_a_json_file_nested_thousands_deep_is_a_file_error_not_a_traceback(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    with pytest.raises(InputError, match=r"deep\.json: the file nests arrays/objects too deep"):
        run_audit(tmp_path, path)
