"""Personas the questions are asked as, and balanced sampling across persona x task.

Built in: 6 roles x 3 expertise levels x 2 tones = 36 personas. A persona file (YAML list or
JSONL) gives others: each entry has `role`, `expertise`, `tone` and optionally `id`/`description`.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from synthgate.errors import ConfigError

ROLES = (
    "undergraduate student",
    "software engineer",
    "product manager",
    "data scientist",
    "technical writer",
    "support agent",
)
EXPERTISE = ("novice", "intermediate", "expert")
TONES = ("casual", "formal")


@dataclass(frozen=True)
class Persona:
    """Who asks: role, expertise and tone; `id` is what the store and summaries show."""

    id: str
    role: str
    expertise: str
    tone: str
    description: str = ""

    def describe(self) -> str:
        """One sentence for the teacher's prompt."""
        text = f"a {self.expertise} {self.role} who writes in a {self.tone} tone"
        return f"{text} ({self.description})" if self.description else text


def builtin_personas() -> list[Persona]:
    """The 36 built-in personas (roles x expertise x tones), in a fixed order."""
    return [
        Persona(id=f"{r.split()[-1]}-{e}-{t}", role=r, expertise=e, tone=t)
        for r, e, t in itertools.product(ROLES, EXPERTISE, TONES)
    ]


def load_personas(spec: str, base: Path) -> list[Persona]:
    """`builtin`, or the personas in a YAML/JSON list or JSONL file (relative to `base`)."""
    if spec == "builtin":
        return builtin_personas()
    path = Path(spec) if Path(spec).is_absolute() else base / spec
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"personas: cannot read {path}: {err.strerror}") from None
    try:
        if path.suffix == ".jsonl":
            entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            entries = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"personas: {path} is not valid YAML/JSONL: {err}") from None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"personas: {path} must hold a non-empty list of personas")
    personas = []
    for n, e in enumerate(entries, start=1):
        if not isinstance(e, dict) or not all(
            isinstance(e.get(k), str) for k in ("role", "expertise", "tone")
        ):
            raise ConfigError(f"personas: {path} entry {n} needs string role, expertise and tone")
        unknown = set(e) - {"id", "role", "expertise", "tone", "description"}
        if unknown:
            raise ConfigError(f"personas: {path} entry {n} has unknown keys {sorted(unknown)}")
        pid = e.get("id") or f"{e['role'].split()[-1]}-{e['expertise']}-{e['tone']}"
        personas.append(Persona(pid, e["role"], e["expertise"], e["tone"], e.get("description", "")))
    ids = [p.id for p in personas]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"personas: {path} has duplicate persona ids")
    return personas


class BalancedPlan:
    """Job index -> (task, persona, k): deterministic, so a resumed run re-plans identically.

    Tasks follow the weights by smooth weighted round robin (every prefix of the sequence is as close
    to the mix as integers allow). The k-th job of a task takes the persona at k in a per-task
    shuffled cycle of all personas, so persona x task cells fill evenly: no cell is more than one
    ahead of another within a task.
    """

    def __init__(self, weights: dict[str, float], personas: list[Persona], seed: int = 0) -> None:
        total = sum(weights.values())
        self._weights = {t: w / total for t, w in weights.items()}
        self._personas = personas
        self._seed = seed
        self._tasks: list[tuple[str, int]] = []
        self._seen = dict.fromkeys(self._weights, 0)
        self._credit = dict.fromkeys(self._weights, 0.0)
        self._orders: dict[tuple[str, int], list[Persona]] = {}

    def task(self, job: int) -> tuple[str, int]:
        """The task type of job `job` and how many earlier jobs had that task (k)."""
        while len(self._tasks) <= job:
            for t, w in self._weights.items():
                self._credit[t] += w
            best = max(self._credit, key=lambda t: self._credit[t])
            self._credit[best] -= 1.0
            self._tasks.append((best, self._seen[best]))
            self._seen[best] += 1
        return self._tasks[job]

    def persona(self, task: str, k: int) -> Persona:
        """The persona of the k-th job of `task`."""
        cycle, pos = divmod(k, len(self._personas))
        key = (task, cycle)
        if key not in self._orders:
            order = list(self._personas)
            random.Random(f"{self._seed}:{task}:{cycle}").shuffle(order)
            self._orders[key] = order
        return self._orders[key][pos]
