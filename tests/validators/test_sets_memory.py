"""Set checks with bounded state: duplicate verdicts drained as found, stable keys, pruned counters."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from synthgate.schemas.chain_config import SetConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators import sets
from synthgate.validators.sets import SetChecker, stable_hash

ROOT = Path(__file__).resolve().parents[2]
ANSWER = (
    "The quarterly report shows revenue grew by twelve percent, driven mainly by subscription sales in "
    "Europe and a recovering hardware segment in North America, while operating costs stayed flat."
)


def rec(completion: str, prompt: str = "What does the report say?") -> Sample:
    return Sample(prompt=[Message(role="user", content=prompt)], completion=completion)


def test_taken_duplicate_verdicts_are_not_held_or_returned_again_but_still_count_in_the_share():
    rng = random.Random(0)
    words = [f"w{k}" for k in range(5000)]
    checker = SetChecker(SetConfig(max_near_duplicate_share=0.1))
    for i in range(3000):  # past one internal batch (2048), so the first copies are judged early
        distinct = " ".join(rng.choice(words) for _ in range(40))
        checker.observe(i, rec(ANSWER if i % 2 else distinct, f"Question {i} about {distinct[:30]}?"))
    taken = checker.take_verdicts()
    assert taken and [i for i, _ in taken] == sorted(i for i, _ in taken)
    assert {v.code for _, v in taken} == {"dup.exact_completion"}
    assert taken[0][0] == 3  # record 1 is the first copy; 3 repeats it
    assert checker.take_verdicts() == []
    per_record, findings = checker.finish()
    assert set(per_record).isdisjoint(i for i, _ in taken)  # only the records judged since
    assert len(taken) + sum(len(vs) for vs in per_record.values()) == 1499
    (share,) = [f for f in findings if f.code == "set.near_duplicate_share"]
    assert share.count == 1499


def test_keys_are_the_same_in_every_process_whatever_its_hash_seed():
    code = "from synthgate.validators.sets import stable_hash; print(stable_hash(b'what does paper 7 say'))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outs == {str(stable_hash(b"what does paper 7 say"))}
    assert -(2**63) <= stable_hash(b"x") < 2**63  # fits the int64 key columns


def test_opening_counts_past_the_bound_keep_the_repeated_opening_and_drop_singletons(monkeypatch):
    monkeypatch.setattr(sets, "_MAX_COUNTED", 1000)
    checker = SetChecker()
    for i in range(5000):
        opening = "Sure here is the answer you asked for" if i % 5 == 0 else f"Topic {i} starts with word {i}"
        checker.observe(i, rec(f"{opening} and then {i} more words follow here.", f"Question {i}?"))
    top = checker.stats()["top_openings"]
    # Repeated from the start, it is never a singleton when a prune comes: counted exactly.
    assert (top[0]["opening"], top[0]["count"]) == ("sure here is the answer", 1000)
    assert len(checker._all_openings) <= 1000 + 2048
