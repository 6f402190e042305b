"""The audit on Ray vs. the single-process audit: records/s, startup cost, peak driver memory.

Generates N synthetic RAG records (the records of benchmarks/audit_throughput.py: ~400 tokens each,
a few percent planted failures) and audits them, each run in a fresh child process:
  local     : `synthgate.audit.runner.audit` (one process)
  ray Ww    : `synthgate.audit.ray_engine.audit_on_ray` with W actors on a local Ray started with
              W CPUs for the actors
Each run's time is split into startup (`ray.init`), a fixed cost per audit (a 20-record audit
first: imports, actor start, chain and tokenizer load) and the audit itself; it prints records/s
(over the audit, and with startup too), peak driver RSS, the speed-up per added worker, and the
CPU seconds of the local engine, of the Ray actors and of the Ray driver. From the last two it
projects records/s for N cores (labelled a projection): N x the records one actor core audits per
CPU second, capped by the driver's serial share. Every Ray run's status and code counts must equal
the local run's (the script exits 1 otherwise).

Usage: .venv/bin/python benchmarks/audit_ray.py [--n 200000] [--workers 1 2] [--block-mb 4]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_throughput import make_records  # noqa: E402


def _local(path: str, db: str) -> dict:
    """The local engine: a 20-record audit (its fixed cost: imports, tokenizer), then the audit."""
    t0 = time.perf_counter()
    from synthgate.audit.runner import AuditOptions, audit
    from synthgate.store import Store

    with Store.open(db + ".small") as store:
        audit(_head(path, "local"), store, AuditOptions())
    fixed = time.perf_counter() - t0
    t1, cpu = time.perf_counter(), _cpu()
    with Store.open(db) as store:
        result = audit(path, store, AuditOptions())
    return {
        "seconds": time.perf_counter() - t1,
        "fixed": fixed,
        "cpu_s": _cpu() - cpu,
        "counts": [result.status_counts, result.code_counts],
    }


def _head(path: str, name: str, n: int = 20) -> Path:
    small = Path(path).with_name(f"small-{name}.jsonl")
    with open(path) as f, small.open("w") as out:
        out.writelines(line for _, line in zip(range(n), f, strict=False))
    return small


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--block-mb", type=float, default=4.0, help="JSONL block size (default 4 MB).")
    ap.add_argument("--_run", help=argparse.SUPPRESS)
    ap.add_argument("--_data", help=argparse.SUPPRESS)
    ap.add_argument("--_db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._run:
        out = _local(args._data, args._db) if args._run == "local" else _ray_run(args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out["peak_rss_mb"] = usage.ru_maxrss / 1024
        # The driver's own CPU: for Ray, the serial share (set checks, masking, inserts) that bounds
        # the speed-up any number of actors can give.
        out.setdefault("cpu_s", usage.ru_utime + usage.ru_stime)
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.jsonl"
        make_records(data, args.n)
        print(f"{args.n} records ({data.stat().st_size / 1e6:.0f} MB); each run in a fresh process")
        runs = {"local": _child(args, "local", data, tmp)}
        for w in args.workers:
            runs[f"ray {w}w"] = _child(args, str(w), data, tmp)
    local = runs["local"]
    head = f"{'run':<9}{'records/s':>11}{'incl. startup':>15}{'startup s':>11}{'fixed s':>9}"
    print(head + f"{'driver MB':>11}{'driver CPU s':>14}")
    for name, r in runs.items():
        audit_s = r["seconds"]
        total = audit_s + r.get("startup", 0.0)
        print(
            f"{name:<9}{args.n / audit_s:>11.0f}{args.n / total:>15.0f}{r.get('startup', 0.0):>11.1f}"
            f"{r.get('fixed', 0.0):>9.1f}{r['peak_rss_mb']:>11.0f}{r['cpu_s']:>14.1f}"
        )
    ones = [r for name, r in runs.items() if name == "ray 1w"]
    for w in args.workers:
        r = runs[f"ray {w}w"]
        line = f"ray {w}w vs local: {local['seconds'] / r['seconds']:.2f}x"
        if ones and w > 1:
            line += f"; vs ray 1w: {ones[0]['seconds'] / r['seconds']:.2f}x ({w} workers)"
        print(line)
    driver = max(r["driver_cpu_s"] for name, r in runs.items() if name != "local")
    print(
        f"driver CPU share: {driver / local['cpu_s']:.0%} of the local engine's CPU, so at most "
        f"~{local['cpu_s'] / driver:.1f}x the local engine whatever the workers (the driver is serial)"
    )
    # A projection, not a measurement: N cores of actors give N x the records/s one fully used
    # core gives (the actors' CPU per record measured above), capped by the driver's serial share.
    best = min((r for name, r in runs.items() if name != "local"), key=lambda r: r["actors_cpu_s"])
    per_core, ceiling = args.n / best["actors_cpu_s"], args.n / best["driver_cpu_s"]
    local_rate = args.n / local["cpu_s"]  # the local engine on one full core (its CPU, startup aside)
    print(
        f"per actor core: {per_core:.0f} records/s of actor CPU; driver ceiling: {ceiling:.0f} records/s "
        f"(driver thread CPU {best['driver_cpu_s']:.1f} s for {args.n} records; the driver process, "
        f"Ray's own threads included: {best['driver_process_cpu_s']:.1f} s)"
    )
    print("PROJECTION (not measured): records/s with N actor cores, each a full core, driver on its own core")
    for cores in (1, 2, 4, 8, 16, 32, 64):
        rate = min(cores * per_core, ceiling)
        ratio = rate / local_rate
        print(f"  {cores:>3} cores: {rate:>7.0f} records/s  ({ratio:.1f}x the local engine on one core)")
    same = all(r["counts"] == local["counts"] for r in runs.values())
    print(f"status and code counts equal to the local engine's: {same}")
    if not same:
        raise SystemExit(1)


def _ray_run(args: argparse.Namespace) -> dict:
    """One Ray run: startup, a 20-record audit (the fixed cost of an audit), then the audit."""
    workers = int(args._run)
    t0 = time.perf_counter()
    import ray

    from synthgate.audit.ray_engine import RayOptions, audit_on_ray
    from synthgate.audit.runner import AuditOptions
    from synthgate.store import Store

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    startup = time.perf_counter() - t0
    options = RayOptions(workers=workers, block_bytes=int(args.block_mb * (1 << 20)))
    small = _head(args._data, str(workers))
    t1 = time.perf_counter()
    with Store.open(args._db + ".small") as store:
        audit_on_ray(small, store, AuditOptions(), options)
    fixed = time.perf_counter() - t1
    logged: list[tuple] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: logged.append(record.args)  # type: ignore[method-assign]
    engine_log = logging.getLogger("synthgate.audit.ray_engine")
    engine_log.setLevel(logging.INFO)
    engine_log.addHandler(handler)
    t2, cpu = time.perf_counter(), _cpu()
    with Store.open(args._db) as store:
        result = audit_on_ray(args._data, store, AuditOptions(), options)
    seconds, cpu = time.perf_counter() - t2, _cpu() - cpu
    _, _, actors_cpu, driver_cpu, driver_process_cpu = logged[-1]
    ray.shutdown()
    return {
        "seconds": seconds,
        "startup": startup,
        "fixed": fixed,
        "cpu_s": cpu,
        "actors_cpu_s": actors_cpu,
        "driver_cpu_s": driver_cpu,
        "driver_process_cpu_s": driver_process_cpu,
        "counts": [result.status_counts, result.code_counts],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(args: argparse.Namespace, run: str, data: Path, tmp: str) -> dict:
    cmd = [sys.executable, __file__, "--_run", run, "--_data", str(data), "--_db", f"{tmp}/{run}.duckdb"]
    cmd += ["--block-mb", str(args.block_mb)]
    out = subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
