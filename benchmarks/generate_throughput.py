"""Generation throughput vs. the ceiling of a bare concurrent client, against a loopback server.

The scripted OpenAI-compatible server from tests/pipelines (127.0.0.1, a fixed latency per
request) answers every request from its own process, as a real server would (in-process it would
compete with the pipeline for the GIL). For each concurrency it measures:
  pipeline : `synthgate.pipelines.runner.generate` end to end (plan, teacher request, JSON check,
             the validator chain, per-job commit to a fresh DuckDB file), no critic
  ceiling  : a bare `openai.OpenAI` client on a thread pool of the same size sending the same
             teacher requests (nothing parsed, checked or stored); like the pipeline it reads the
             documents, plans the prompts and creates its client inside the timed span
and prints samples/s of both, their ratio (the issue's goal: >= 0.9 at concurrency 32), and the
CPU milliseconds this process spent per sample in each (the server runs in its own process).

The ratio depends on the server latency. At 1000 ms (a short answer from a real server) both are
bound by the server and the pipeline's work hides behind the wait; at 50 ms the loopback server
answers faster than any LLM server could, both sides become CPU-bound on this machine, and the
ratio measures the pipeline's CPU cost per sample against the client's alone (the cpu ms columns).

Usage: .venv/bin/python benchmarks/generate_throughput.py [--latency-ms 50 250 1000] [--concurrency 1 8 32]
       [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pipelines"))

from llm_server import LLMServer, ScriptedLLM  # noqa: E402
from pipeline_helpers import DOCS, base_config  # noqa: E402

from synthgate.pipelines.config import GenerateConfig  # noqa: E402
from synthgate.pipelines.personas import load_personas  # noqa: E402
from synthgate.pipelines.runner import generate  # noqa: E402
from synthgate.pipelines.sources import load_chunks  # noqa: E402
from synthgate.pipelines.tasks import JobPlanner, teacher_prompt  # noqa: E402
from synthgate.store import Store  # noqa: E402


def _serve(latency_s: float, conn: mp.connection.Connection) -> None:
    with LLMServer(ScriptedLLM(latency_s=latency_s)) as srv:
        conn.send(srv.url)
        conn.recv()  # until the parent says stop


def write_docs(folder: Path, n: int) -> None:
    """`n` small documents, each naming its number first: the scripted teacher quotes a passage's
    first sentence, so every chunk gives a distinct sample (no `dup.exact_record` rejects)."""
    folder.mkdir()
    bodies = [text.split("\n\n", 1)[1] for text in DOCS.values()]
    for k in range(n):
        text = f"Note {k} is about item {k}. {bodies[k % len(bodies)]}"
        (folder / f"note{k:04d}.md").write_text(text, encoding="utf-8")


def config_for(url: str, count: int, concurrency: int, chain: str) -> GenerateConfig:
    cfg = base_config(url, count=count, concurrency=concurrency, critic=None)
    cfg["sources"]["chunk_chars"] = 2000  # one chunk per document
    cfg["teacher"]["api_key_env"] = None
    if chain == "default":
        del cfg["validators"]  # every validator, the length check through the embedded tokenizer
    return GenerateConfig.model_validate(cfg)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; Linux /proc, NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_pipeline(
    config: GenerateConfig, base: Path, db: str, offload: bool | None = None
) -> tuple[float, float]:
    """(samples/s, CPU ms of this process per sample; the check worker process's CPU is not counted,
    as the server's is not: it runs beside the requests, on another core when there is one)."""
    with Store.open(base / db) as store:
        start, cpu = time.perf_counter(), time.process_time()
        state = generate(config, store, base=base, offload=offload)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    # Like for like with the ceiling: one teacher request per kept sample, no rejects or retries.
    assert state.kept == state.jobs == config.count, state
    return config.count / elapsed, 1000 * cpu / config.count


def run_ceiling(config: GenerateConfig, base: Path) -> tuple[float, float]:
    """(samples/s, CPU ms per sample) of the bare client. Timed from the same point as the pipeline:
    reading the documents, planning the prompts and creating the client count on both sides."""
    import openai

    start, cpu = time.perf_counter(), time.process_time()
    planner = JobPlanner(config, load_chunks(config.sources, base), load_personas(config.personas, base))
    client = openai.OpenAI(base_url=config.teacher.base_url, api_key="not-needed", max_retries=0)
    params = config.teacher.params.sent()

    def one(index: int) -> str:
        messages = teacher_prompt(planner.job(index), config).messages
        resp = client.chat.completions.create(model=config.teacher.model, messages=messages, **params)
        return resp.choices[0].message.content or ""

    with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
        replies = list(pool.map(one, range(config.count)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(replies) == config.count
    return config.count / elapsed, 1000 * cpu / config.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="+",
        default=[50.0, 250.0, 1000.0],
        help="server latency per request",
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--samples", type=int, default=0, help="samples per run (default 40 or 10 x c)")
    parser.add_argument("--chain", choices=["default", "fast"], default="default")
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting (shared machines are noisy)")
    parser.add_argument(
        "--offload",
        choices=["auto", "on", "off"],
        default="auto",
        help="the validator chain and job rows in a worker process (pipelines/offload.py); off: in-process",
    )
    args = parser.parse_args()
    print(
        f"chain {args.chain}, offload {args.offload}, no critic, {os.cpu_count()} cores; "
        "cpu = CPU ms per sample of this "
        "process (pipe, ceil) and of the server process (srv), cores = cores busy during the ceiling"
    )
    print(
        f"{'latency':>7} {'concurrency':>11} {'samples':>7} {'pipeline/s':>10} {'ceiling/s':>10} "
        f"{'ratio':>6} {'cpu pipe':>8} {'cpu ceil':>8} {'srv pipe':>8} {'srv ceil':>8} {'ceil cores':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        # One document per sample: the scripted teacher answers from the passage alone, so a
        # passage used twice would repeat a sample (a `dup.exact_record` reject and an extra job).
        write_docs(base / "docs", args.samples or max(40, 10 * max(args.concurrency)))
        for latency_ms in args.latency_ms:
            parent, child = mp.Pipe()
            server = mp.Process(target=_serve, args=(latency_ms / 1000, child), daemon=True)
            server.start()
            try:
                measure(parent.recv(), server.pid, base, latency_ms, args)
            finally:
                parent.send("stop")
                server.join(timeout=5)


def measure(url: str, server_pid: int, base: Path, latency_ms: float, args: argparse.Namespace) -> None:
    """Print one line per concurrency: pipeline and ceiling samples/s, their ratio, CPU per sample
    (this process) and the server's CPU per request, and how busy the machine's cores were."""
    # Warm up once: the tokenizer load and the first connection are not throughput.
    run_pipeline(config_for(url, 2, 1, args.chain), base, f"warm-{latency_ms:.0f}.duckdb")
    for rep, c in enumerate(c for c in args.concurrency for _ in range(args.repeat)):
        n = args.samples or max(40, 10 * c)
        config = config_for(url, n, c, args.chain)
        srv = process_cpu_s(server_pid)
        offload = {"auto": None, "on": True, "off": False}[args.offload]
        pipeline, cpu_pipe = run_pipeline(
            config, base, f"bench-{latency_ms:.0f}-{c}-{rep}.duckdb", offload
        )  # a new run
        srv_pipe = 1000 * (process_cpu_s(server_pid) - srv) / n
        srv = process_cpu_s(server_pid)
        ceiling, cpu_ceil = run_ceiling(config, base)
        srv_ceil = 1000 * (process_cpu_s(server_pid) - srv) / n
        # Cores busy while the ceiling ran: (client + server CPU per request) x requests per second.
        busy = (cpu_ceil + srv_ceil) * ceiling / 1000
        print(
            f"{latency_ms:>5.0f}ms {c:>11} {n:>7} {pipeline:>10.1f} {ceiling:>10.1f} "
            f"{pipeline / ceiling:>6.2f} {cpu_pipe:>8.2f} {cpu_ceil:>8.2f} {srv_pipe:>8.2f} "
            f"{srv_ceil:>8.2f} {busy:>10.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
