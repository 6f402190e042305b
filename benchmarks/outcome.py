"""Does the gate change what the student learns? Raw set vs. synthgate's path, same model and budget.

One command builds a RAG training set from real public records with the seeds' defects planted
(benchmarks/outcome_data.py), then trains the same base model with the same seed, steps, batch
and learning rate three ways:

- A: the raw set, loss on the full sequence (what the seeds did);
- B: the raw set, loss on completions only;
- C: synthgate's path: `synthgate audit` -> `version create --include pass,fixed` -> gated
  `export` -> `synthgate train` (completion-only; the library function the CLI calls);

and evaluates A, B, C and the base model zero-shot and few-shot (3 shots from C's export) on
held-out items with synthgate eval's generation and scoring (`synthgate.training.eval`):
parroting, looping / invented turns (the audit's validators on the outputs), keyword coverage,
refusal accuracy, words per answer. Run A's adapter is also saved and scored at a few checkpoints.
Writes `results.json` and `results.md` (plus the data, the store, the export, the adapters and
every answer) into --out, which must be new or empty.

Usage:
    PYTHONPATH=$PWD .venv/bin/python benchmarks/outcome.py --out out/outcome            # cpu preset
    PYTHONPATH=$PWD .venv/bin/python benchmarks/outcome.py --preset tiny --out /tmp/o   # smoke test
    PYTHONPATH=$PWD .venv/bin/python benchmarks/outcome.py --preset gpu --out out/outcome-gpu
"""

from __future__ import annotations

import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")  # before torch loads (oneDNN AMX crash)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import outcome_data as data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Preset:
    """Sizes of one run; flags override them."""

    n_train: int
    n_eval: int
    steps: int
    lr: float
    batch_size: int
    max_new_tokens: int
    checkpoints: int  # run A's adapter is scored after every steps/checkpoints steps
    checkpoint_items: int
    checkpoint_tokens: int
    eval_batch: int = 8


PRESETS = {
    # A smoke test of the whole path (minutes on a CPU); says nothing about the outcome.
    "tiny": Preset(40, 10, 2, 1e-3, 2, 12, 2, 4, 8),
    # Sized for the 2-core machine in about an hour.
    "cpu": Preset(150, 48, 36, 1e-3, 4, 96, 3, 16, 48),
    # A GPU: the whole raw set several times over and longer answers.
    "gpu": Preset(180, 60, 300, 2e-4, 8, 256, 5, 60, 128),
}
SHORT_RUN = 20  # steps; below, no warm-up and a constant learning rate
ARMS = ("zero_shot", "few_shot", "A", "B", "C")
LABELS = {
    "zero_shot": "base zero-shot",
    "few_shot": "base few-shot (k shots from C's export)",
    "A": "A: raw set, full-sequence loss",
    "B": "B: raw set, completion-only loss",
    "C": "C: synthgate path (audit -> version -> gated export -> train)",
}


def _say(msg: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", flush=True)


def _cli(args: list[str], ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run the real `synthgate` CLI (this tree's package) and fail loudly on an unexpected exit."""
    cmd = [sys.executable, "-m", "synthgate.cli.app", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode not in ok:
        raise RuntimeError(
            f"synthgate {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


# --- the synthgate path (C's data) -------------------------------------------------------------


def gated_export(raw_file: Path, out: Path, seed: int) -> dict[str, Any]:
    """audit -> version create (pass, fixed) -> export through the default gate; what each step said."""
    db = out / "synthgate.duckdb"
    audit = _cli(
        ["audit", str(raw_file), "--db", str(db), "--report", str(out / "audit_report.jsonl"), "--json"],
        ok=(0, 1),
    )
    summary = json.loads(audit.stdout)
    version = _cli(
        [
            "version",
            "create",
            "outcome-c",
            "--source",
            summary["dataset_id"],
            "--include",
            "pass,fixed",
            "--db",
            str(db),
            "--json",
        ]
    )
    version_id = json.loads(version.stdout)["id"]
    export_dir = out / "export_c"
    export = _cli(
        [
            "export",
            version_id,
            "--format",
            "trl-jsonl",
            "--out",
            str(export_dir),
            "--db",
            str(db),
            "--seed",
            str(seed),
            "--eval-fraction",
            "0.1",
            "--json",
        ]
    )
    return {
        "audit_exit": audit.returncode,
        "version_id": version_id,
        "export_dir": str(export_dir),
        **{"export_counts": json.loads(export.stdout).get("counts")},
    }


def audit_catch(labelled: list[dict[str, Any]], report_file: Path) -> dict[str, dict[str, int]]:
    """Per planted defect: records planted, flagged with the expected code, and let into C's version."""
    rows = [json.loads(line) for line in report_file.read_text(encoding="utf-8").splitlines() if line]
    by_defect: dict[str, dict[str, int]] = {}
    for rec, row in zip(labelled, rows, strict=True):
        d = by_defect.setdefault(rec["defect"], {"planted": 0, "flagged": 0, "kept": 0})
        d["planted"] += 1
        want = data.EXPECTED_CODES.get(rec["defect"], ())
        d["flagged"] += any(c.startswith(w) for c in row["codes"] for w in want)
        d["kept"] += row["status"] in ("pass", "fixed")
    return by_defect


# --- training -----------------------------------------------------------------------------------


def train_config(p: Preset, seed: int, completion_only: bool) -> Any:
    from synthgate.training.config import TrainConfig

    # The same settings for every arm; the last step's adapter is the result (no best-checkpoint
    # pick, which only C's export could make), logged every step for the loss curves.
    return TrainConfig(
        learning_rate=p.lr,
        max_steps=p.steps,
        per_device_train_batch_size=p.batch_size,
        seed=seed,
        load_best_model_at_end=False,
        logging_steps=1,
        completion_only_loss=completion_only,
        max_length=1024,
        # A run of a few steps cannot spare one at lr 0 (warm-up) nor decay most of the others away.
        warmup_ratio=0.05 if p.steps >= SHORT_RUN else 0.0,
        lr_scheduler_type="cosine" if p.steps >= SHORT_RUN else "constant",
    )


def train_raw(
    rows: list[dict[str, Any]],
    base_model: str | None,
    out: Path,
    p: Preset,
    seed: int,
    full_sequence: bool,
    checkpoint_steps: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Train on the raw rows with synthgate's own trainer builder, none of its refusals."""
    from transformers import TrainerCallback

    from synthgate.models.embedded import PLAIN_CHAT_TEMPLATE
    from synthgate.models.student import load_causal_lm
    from synthgate.training.device import detect_capabilities, model_load_kwargs, resolve_setup
    from synthgate.training.sft import build_trainer, write_log_history

    cfg = train_config(p, seed, completion_only=not full_sequence)
    setup = resolve_setup(cfg.device, cfg.precision, cfg.quantization, detect_capabilities())
    cfg = cfg.model_copy(update={"device": setup.device, "precision": setup.precision})
    model, tokenizer = load_causal_lm(base_model, **model_load_kwargs(setup, 0))
    if tokenizer.chat_template is None:
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    trainer = build_trainer(model, tokenizer, rows, [], cfg, setup, out / "checkpoints")

    class SaveAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201, ARG002
            if state.global_step in checkpoint_steps:
                kwargs["model"].save_pretrained(str(out / f"step-{state.global_step}"))

    trainer.add_callback(SaveAt())
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    trainer.model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    (out / "training_config.json").write_text(cfg.model_dump_json(indent=2) + "\n", encoding="utf-8")
    write_log_history(trainer.state.log_history, out)
    info = {"steps": trainer.state.global_step, "train_loss": float(result.training_loss), "seconds": seconds}
    del trainer, model
    gc.collect()
    return info


def train_gated(export_dir: Path, base_model: str | None, out: Path, p: Preset, seed: int) -> dict[str, Any]:
    """`synthgate train` on C's export (the library function behind the CLI command)."""
    from synthgate.training.sft import train

    res = train(export_dir, base_model, out, train_config(p, seed, completion_only=True), echo=_say)
    gc.collect()
    return {
        "steps": res.steps,
        "train_loss": res.train_loss,
        "eval_loss": res.eval_loss,
        "seconds": res.seconds,
    }


def loss_curve(run_dir: Path) -> list[tuple[int, float]]:
    from synthgate.training.sft import LOG_HISTORY_NAME

    history = json.loads((run_dir / LOG_HISTORY_NAME).read_text(encoding="utf-8"))
    return [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h and "step" in h]


# --- eval ---------------------------------------------------------------------------------------


def evaluate(
    items: list[Any],
    base_model: str | None,
    adapters: dict[str, Path],
    shots: list[Any],
    p: Preset,
    checkpoints: dict[str, Path],
    save_dir: Path,
    wanted: set[str] | None = None,
) -> dict[str, Any]:
    """The arms in `wanted` (None: all) with synthgate eval's greedy generation and scoring; base
    model loaded once. Each arm's answers and metrics go to `save_dir/NAME.json` as soon as it
    ends, and an arm already saved there is read back, not run again: a failed or killed eval
    resumes, and several processes can share the arms (see --arms)."""
    import warnings

    from peft import PeftModel

    from synthgate.models.embedded import PLAIN_CHAT_TEMPLATE
    from synthgate.models.student import load_causal_lm
    from synthgate.training.eval import REFUSAL_TASK, OutputScorer, build_messages, generate, score_arm

    model, tokenizer = load_causal_lm(base_model)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    model.eval()
    scorer = OutputScorer()
    batch = p.eval_batch

    def run(name: str, m: Any, arm_items: list[Any], arm_shots: list[Any], tokens: int) -> dict[str, Any]:
        started = time.perf_counter()
        gens = generate(m, tokenizer, [build_messages(i, arm_shots) for i in arm_items], tokens, batch)
        outputs = []
        for i, g in zip(arm_items, gens, strict=True):
            s = scorer.score(i, g.text)
            outputs.append(
                {"id": i.id, "task_type": i.task_type, "text": g.text, "stopped": g.stopped, **asdict(s)}
            )
        metrics = asdict(score_arm(arm_items, gens))
        metrics.update(code_shares(outputs))
        _say(
            f"eval {name} ({time.perf_counter() - started:.0f} s): "
            + json.dumps({k: _r(v) for k, v in metrics.items()})
        )
        done = {"metrics": metrics, "outputs": outputs, "seconds": time.perf_counter() - started}
        save_dir.mkdir(parents=True, exist_ok=True)
        (save_dir / f"{name}.json").write_text(
            json.dumps(done, indent=1, ensure_ascii=False), encoding="utf-8"
        )
        return done

    def saved(name: str) -> dict[str, Any] | None:
        file = save_dir / f"{name}.json"
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None

    ck_items = [i for i in items if i.task_type != REFUSAL_TASK][: p.checkpoint_items]
    # name -> (items, shots, new tokens, adapter or None for the base model)
    plan: dict[str, tuple[list[Any], list[Any], int, Path | None]] = {
        "zero_shot": (items, [], p.max_new_tokens, None),
        "few_shot": (items, shots, p.max_new_tokens, None),
        # The base on the checkpoint items: step 0 of run A's checkpoint curve.
        "A_step_0": (ck_items, [], p.checkpoint_tokens, None),
        **{name: (items, [], p.max_new_tokens, path) for name, path in adapters.items()},
        **{name: (ck_items, [], p.checkpoint_tokens, path) for name, path in checkpoints.items()},
    }
    results: dict[str, Any] = {}
    todo = []
    for name in plan:
        done = saved(name)
        if done is not None:
            results[name] = done
        elif wanted is None or name in wanted:
            todo.append(name)
    tuned = None
    for name in todo:
        arm_items, arm_shots, tokens, adapter = plan[name]
        if adapter is None:
            results[name] = run(name, model, arm_items, arm_shots, tokens)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            if tuned is None:
                tuned = PeftModel.from_pretrained(model, str(adapter), adapter_name=name)
                tuned.eval()
            else:
                tuned.load_adapter(str(adapter), adapter_name=name)
        tuned.set_adapter(name)
        results[name] = run(name, tuned, arm_items, arm_shots, tokens)
    ck_names = ("A_step_0", *checkpoints)
    return {
        "arms": {k: v for k, v in results.items() if k not in ck_names},
        "checkpoints": {k: v for k, v in results.items() if k in ck_names},
    }


def code_shares(outputs: list[dict[str, Any]]) -> dict[str, float]:
    """Shares of answers by what the validators saw: the seeds' failure modes one by one."""
    n = max(len(outputs), 1)

    def share(pred: Any) -> float:
        return sum(1 for o in outputs if pred(o["codes"])) / n

    return {
        "opens_with_or_recites_prompt": share(lambda cs: any(c.startswith("leak.") for c in cs)),
        "invented_qa_rate": share(lambda cs: "loop.extra_qa_pair" in cs),
        "repeat_rate": share(lambda cs: any(c.startswith("loop.") and c != "loop.extra_qa_pair" for c in cs)),
    }


def _r(v: Any) -> Any:
    return round(v, 3) if isinstance(v, float) else v


# --- report -------------------------------------------------------------------------------------

ROWS = (
    ("parroting_rate", "system-prompt parroting (leak.*)", "pct"),
    ("looping_rate", "looping / invented turns (loop.*)", "pct"),
    ("invented_qa_rate", "  of which invented Q/A pairs (loop.extra_qa_pair)", "pct"),
    ("keyword_coverage", "keyword coverage (grounded items)", "pct"),
    ("refusal_accuracy", "refusal accuracy (all items)", "pct"),
    ("refusal_recall", "refusal recall (refusal items)", "pct"),
    ("false_refusal_rate", "false refusals (grounded items)", "pct"),
    ("format_compliance", "prose format compliance", "pct"),
    ("mean_words", "mean words per answer", "num"),
    ("truncated_rate", "cut at the token limit", "pct"),
)


def _fmt(v: Any, kind: str) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.0f}%" if kind == "pct" else f"{v:.1f}"


def markdown(results: dict[str, Any]) -> str:
    arms = results["eval"]["arms"]
    lines = [
        f"| metric ({results['settings']['n_eval']} held-out items) | " + " | ".join(ARMS) + " |",
        "|---|" + "---|" * len(ARMS),
    ]
    for key, label, kind in ROWS:
        lines.append(
            f"| {label} | " + " | ".join(_fmt(arms[a]["metrics"].get(key), kind) for a in ARMS) + " |"
        )
    t = results["training"]
    lines.append(
        "| training records (steps x batch) | - | - | "
        + " | ".join(
            f"{t[a]['records']} ({t[a]['steps']} x {results['settings']['batch_size']})" for a in "ABC"
        )
        + " |"
    )
    catch = results["synthgate_path"]["catch"]
    lines += [
        "",
        "The raw training set and what synthgate's audit did with it (C trains on what is kept):",
        "",
        "| planted | records | flagged by the audit | kept in C's version |",
        "|---|---|---|---|",
    ]
    for defect in ("clean", *data.DEFECT_RATES):
        if defect in catch:
            c = catch[defect]
            lines.append(f"| {defect} | {c['planted']} | {c['flagged']} | {c['kept']} |")
    lines += [
        "",
        "Run A's answers at checkpoints (grounded items only):",
        "",
        "| checkpoint | parroting | looping | keyword coverage | mean words |",
        "|---|---|---|---|---|",
    ]
    for name, r in sorted(results["eval"]["checkpoints"].items(), key=lambda kv: int(kv[0].split("_")[-1])):
        m = r["metrics"]
        lines.append(
            f"| {name} | {_fmt(m['parroting_rate'], 'pct')} | {_fmt(m['looping_rate'], 'pct')} | "
            f"{_fmt(m['keyword_coverage'], 'pct')} | {_fmt(m['mean_words'], 'num')} |"
        )
    lines += [
        "",
        "Training loss (A: full sequence, so not comparable in level with B and C):",
        "",
        "| step | A | B | C |",
        "|---|---|---|---|",
    ]
    curves = {a: dict(results["training"][a]["loss_curve"]) for a in "ABC"}
    steps = results["settings"]["steps"]
    for s in sorted({1, max(1, steps // 4), max(1, steps // 2), max(1, 3 * steps // 4), steps}):
        lines.append(
            f"| {s} | " + " | ".join(f"{curves[a][s]:.3f}" if s in curves[a] else "-" for a in "ABC") + " |"
        )
    return "\n".join(lines) + "\n"


def build_and_train(out: Path, p: Preset, seed: int, base: str | None, ck_steps: tuple[int, ...]) -> None:
    """Build the sets, take synthgate's path to C's export, train A, B and C, all into `out`."""
    built = data.build_sets(p.n_train, p.n_eval, seed)
    raw_file = data.write_jsonl(
        built.train, out / "data" / "raw_train.jsonl", drop=("defect", "source_index")
    )
    data.write_jsonl(built.train, out / "data" / "raw_train_labelled.jsonl")
    data.write_jsonl(built.eval_items, out / "data" / "eval.jsonl")
    (out / "data" / "info.json").write_text(json.dumps(built.info, indent=1), encoding="utf-8")
    _say(
        f"built {len(built.train)} raw records {built.defect_counts()} and {len(built.eval_items)} eval items"
    )
    t = time.perf_counter()
    path_c = gated_export(raw_file, out, seed)
    _note_time(out, "synthgate_path", time.perf_counter() - t)
    _say("synthgate path: " + json.dumps(path_c))
    for arm in "ABC":
        train_arm(arm, out, p, seed, base, ck_steps)


def train_arm(arm: str, out: Path, p: Preset, seed: int, base: str | None, ck_steps: tuple[int, ...]) -> None:
    """Train one arm into out/runs/ARM from the data and export already in `out`."""
    t = time.perf_counter()
    run_dir = out / "runs" / arm
    if arm == "C":
        _say("training C (synthgate train on the gated export)")
        train_gated(out / "export_c", base, run_dir, p, seed)
    else:
        raw = [
            json.loads(line) for line in (out / "data" / "raw_train_labelled.jsonl").open(encoding="utf-8")
        ]
        full = arm == "A"
        _say(f"training {arm} ({'full sequence' if full else 'completion only'}) on {len(raw)} raw records")
        train_raw(data.trl_rows(raw), base, run_dir, p, seed, full, ck_steps if full else ())
    _note_time(out, f"train_{arm}", time.perf_counter() - t)
    _say(f"{arm} trained: {run_info(out, arm)}")


def _note_time(out: Path, key: str, seconds: float) -> None:
    file = out / "timings.json"
    timings = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
    timings[key] = round(seconds, 1)
    file.write_text(json.dumps(timings, indent=1), encoding="utf-8")


def run_info(out: Path, arm: str) -> dict[str, Any]:
    """One trained arm from its files: steps, final train loss, trainer runtime, records, loss curve."""
    from synthgate.training.sft import LOG_HISTORY_NAME

    history = json.loads((out / "runs" / arm / LOG_HISTORY_NAME).read_text(encoding="utf-8"))
    summary = next(h for h in reversed(history) if "train_loss" in h)
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    if arm == "C":
        manifest = json.loads((out / "export_c" / "manifest.json").read_text(encoding="utf-8"))
        records = manifest["counts"]["train"]
    else:
        records = sum(1 for _ in (out / "data" / "raw_train.jsonl").open(encoding="utf-8"))
    return {
        "steps": int(summary["step"]),
        "train_loss": float(summary["train_loss"]),
        "eval_loss": evals[-1] if evals else None,
        "train_runtime_s": float(summary["train_runtime"]),
        "records": records,
        "loss_curve": [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h],
    }


def synthgate_path_info(out: Path) -> dict[str, Any]:
    """What the audit, version and gated export did, from their files in `out`."""
    report = [
        json.loads(line) for line in (out / "audit_report.jsonl").open(encoding="utf-8") if line.strip()
    ]
    manifest = json.loads((out / "export_c" / "manifest.json").read_text(encoding="utf-8"))
    labelled = [
        json.loads(line) for line in (out / "data" / "raw_train_labelled.jsonl").open(encoding="utf-8")
    ]
    statuses: dict[str, int] = {}
    codes: dict[str, int] = {}
    for row in report:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        for c in row["codes"]:
            codes[c] = codes.get(c, 0) + 1
    return {
        "status_counts": statuses,
        "code_counts": codes,
        "version_id": manifest["version_id"],
        "gate_passed": manifest["gate"]["passed"],
        "export_counts": manifest["counts"],
        "catch": audit_catch(labelled, out / "audit_report.jsonl"),
    }


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--out", type=Path, required=True, help="new or empty folder for every output")
    ap.add_argument(
        "--base-model", default="default", help="default (embedded Gemma 3 270M), a folder or a .gguf"
    )
    ap.add_argument("--seed", type=int, default=0, help="data draw, export split and training seed")
    ap.add_argument("--steps", type=int, help="optimizer steps per arm (preset's by default)")
    ap.add_argument("--lr", type=float, help="learning rate of every arm")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--n-train", type=int, help="raw training records")
    ap.add_argument("--n-eval", type=int, help="held-out eval items (20%% refusals)")
    ap.add_argument("--max-new-tokens", type=int)
    ap.add_argument("--checkpoints", type=int, help="score run A after every steps/N steps")
    ap.add_argument("--checkpoint-items", type=int)
    ap.add_argument("--checkpoint-tokens", type=int)
    ap.add_argument("--eval-batch", type=int, help="eval prompts generated together")
    ap.add_argument("--k", type=int, default=3, help="few-shot examples (from C's export)")
    ap.add_argument(
        "--train-arms",
        help="train only these (comma list of A, B, C) into --out/runs/ from the data and export already "
        "there, and stop: arms can train in parallel processes",
    )
    ap.add_argument(
        "--arms",
        help="evaluate only these (comma list: zero_shot, few_shot, A_step_0, A, B, C, A_step_N) into "
        "--out/eval/ and stop; a later full run or --resume reads them back",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="reuse --out's trained adapters and evaluate again; with results.json, rewrite results.md",
    )
    args = ap.parse_args(argv)
    p = PRESETS[args.preset]
    overrides = {
        "steps": args.steps,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "n_train": args.n_train,
        "n_eval": args.n_eval,
        "max_new_tokens": args.max_new_tokens,
        "checkpoints": args.checkpoints,
        "checkpoint_items": args.checkpoint_items,
        "checkpoint_tokens": args.checkpoint_tokens,
        "eval_batch": args.eval_batch,
    }
    p = Preset(**{**asdict(p), **{k: v for k, v in overrides.items() if v is not None}})
    out: Path = args.out
    resume = args.resume and (out / "runs" / "C" / "adapter_config.json").is_file()
    if not (resume or args.arms or args.train_arms) and out.exists() and any(out.iterdir()):
        ap.error(f"{out} is not empty: pass a new folder (or --resume after a failed eval)")
    out.mkdir(parents=True, exist_ok=True)
    base = None if args.base_model == "default" else args.base_model
    started = time.perf_counter()
    every = max(1, p.steps // p.checkpoints)
    ck_steps = tuple(s for s in range(every, p.steps, every))
    runs = out / "runs"
    eval_file = out / "data" / "eval.jsonl"
    if args.resume and (out / "results.json").is_file():  # all done: write the table again
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        (out / "results.md").write_text(markdown(results), encoding="utf-8")
        print(markdown(results))
        return 0
    checkpoints = {f"A_step_{s}": runs / "A" / f"step-{s}" for s in ck_steps}
    checkpoints[f"A_step_{p.steps}"] = runs / "A"
    if args.train_arms:  # one share of the training, into --out/runs/
        for arm in args.train_arms.split(","):
            train_arm(arm, out, p, args.seed, base, ck_steps)
        return 0
    if not (resume or args.arms):
        build_and_train(out, p, args.seed, base, ck_steps)
    from synthgate.training.eval import load_eval_items, shots_from_export

    items = load_eval_items(eval_file)
    shots = shots_from_export(out / "export_c", k=args.k, seed=args.seed)
    wanted = set(args.arms.split(",")) if args.arms else None
    t = time.perf_counter()
    ev = evaluate(items, base, {a: runs / a for a in "ABC"}, shots, p, checkpoints, out / "eval", wanted)
    if args.arms:  # a share of the eval; a later --resume assembles results
        return 0
    _note_time(out, "eval_this_process", time.perf_counter() - t)
    timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    # Arms may have run in other processes (--arms) or an earlier attempt: their own wall times.
    timings["eval_arms_sum"] = round(sum(r["seconds"] for part in ev.values() for r in part.values()), 1)
    timings["wall_total_this_process"] = round(time.perf_counter() - started, 1)
    training = {a: run_info(out, a) for a in "ABC"}
    path_c = synthgate_path_info(out)
    info = json.loads((out / "data" / "info.json").read_text(encoding="utf-8"))

    import torch

    results = {
        "settings": {
            **asdict(p),
            "preset": args.preset,
            "seed": args.seed,
            "base_model": args.base_model,
            "k_shots": args.k,
            "decoding": "greedy",
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "cuda": torch.cuda.is_available(),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "torch": torch.__version__,
        },
        "data": info,
        "synthgate_path": path_c,
        "training": training,
        "eval": {"arms": ev["arms"], "checkpoints": ev["checkpoints"]},
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / "results.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "results.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    _say(f"done; {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
