"""Secrets and personal data in training text: API keys, private keys, emails, phone numbers.

Scans the completion, every prompt turn (span field "prompt", offsets into that turn; the
message names the turn unless it is the last user turn) and the system prompt. A verdict
message shows only a masked form (`mask`): at most 4 leading and 2 trailing characters; the
span points at the secret itself.

API keys and tokens (`secret.api_key`): OpenAI `sk-`/`sk-proj-`, Anthropic `sk-ant-`, AWS
`AKIA`/`ASIA` key ids (and, next to one or to an "aws secret" name, a 40-character secret with
upper, lower and digits and high entropy), GitHub `ghp_`/`gho_`/.../`github_pat_`, Slack
`xox[baprs]-`, Google `AIza`, Hugging Face `hf_`, Stripe `sk_live_`/`rk_live_` (test keys are
published in Stripe's own docs and are not flagged), JWTs (`eyJ...eyJ...sig`), `Bearer` tokens
and credential assignments (`api_key = "..."`, `"password": "..."`, `DB_TOKEN=...`; a key,
secret, token, password or credential name right before `=`/`:`) whose value looks random:
12+ characters mixing letters and digits, not all upper case, 3.5+ bits of entropy per character,
and not a stand-in or reference (your, example, xxx, `${VAR}`, URLs, paths, `settings.key`).
Provider-shaped tokens must still mix letters and digits (Hugging Face's: upper and lower case),
so prose such as "sk-this-is-a-very-long-word" is left alone; anything containing "example" (AWS's
documented AKIAIOSFODNN7EXAMPLE) is too.

Private keys (`secret.private_key`): a `-----BEGIN ... PRIVATE KEY-----` block with at least 64
base64 characters in it (a "..." stand-in in documentation is not a key).

Emails (`pii.email`): not flagged at documentation domains (RFC 2606/6761: example.com/.org/
.net, any `example`/`example-*` label, the .test/.example/.invalid/.localhost/.local TLDs),
obvious stand-ins (domain.com, company.com, yourdomain.com, any `your*` label), or for
non-personal senders (`git@`, `noreply@`). Real-looking addresses are flagged.

Phones (`pii.phone`): `+CC` international numbers with separators and 10-15 digits, and US
numbers `(415) 867-5309`, `415-867-5309`, `415.867.5309` (optionally `1-` first). Never a bare
digit run (GSM8K arithmetic), years, dates, versions or ISBNs, since they lack these shapes. The
fictional 555 numbers of films and docs (area code or exchange 555) are not flagged.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import ClassVar

from synthgate.schemas.chain_config import SecretsConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.artifacts import CheckedText, texts_to_check
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict

_ALL_ROLES = frozenset({"user", "assistant", "tool"})


def mask(secret: str) -> str:
    """At most 4 leading and 2 trailing characters of `secret`, fewer for short ones.

    >>> mask("sk-proj-0123456789abcdefghij9f")
    'sk-p…[masked]…9f'
    >>> mask("short")
    's…[masked]…'
    """
    n = len(secret)
    lead, trail = min(4, n // 4), min(2, n // 8)
    return f"{secret[:lead]}…[masked]…{secret[n - trail :] if trail else ''}"


def entropy(s: str) -> float:
    """Shannon entropy of `s` in bits per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def _mixed(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


# (hint, provider label, pattern): the pattern runs only when its hint is in the text (one
# substring test; "_" is a single character, found by memchr). Patterns open with their literal
# prefix so the regex engine jumps to candidates; the word boundary before them is checked in
# Python (_starts_word).
_PROVIDERS: list[tuple[str, str, re.Pattern[str]]] = [
    ("sk-", "OpenAI API key", re.compile(r"sk-(?:ant-(?:[a-z]+\d\d-)?|proj-|svcacct-)?[\w-]{20,}")),
    ("IA", "AWS access key id", re.compile(r"A[KS]IA[A-Z0-9]{16}\b")),
    ("_", "GitHub token", re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}\b|github_pat_\w{22,}")),
    ("_", "Hugging Face token", re.compile(r"hf_[A-Za-z0-9]{30,}\b")),
    ("_", "Stripe secret key", re.compile(r"[sr]k_live_[A-Za-z0-9]{16,}")),
    ("xox", "Slack token", re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}")),
    ("AIza", "Google API key", re.compile(r"AIza[\w-]{35}")),
    ("eyJ", "JWT", re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
]
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
# Generic credentials: a value after "=" / ":" (":=", "=>", "==" too), quoted or not, that looks
# random, with a credential-ish name right before the separator.
_VALUE = re.compile(r"""[=>]?\s*(["']?)([^"'\s,;()]{12,200})\1""")
_KEY_BEFORE = re.compile(
    r"""(?i)(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|access[_-]?key|auth[_-]?key|credentials?)"""
    r"""[\w.-]*["']?\s*$"""
)
_BEARER = re.compile(r"[Bb]earer\s+([A-Za-z0-9._~+/-]{20,}=*)")
# Values that are stand-ins, references or addresses, not secrets: "YOUR_KEY_HERE", "${TOKEN}",
# "settings.api_key_v2", "https://oauth2.example.org/token", "/run/secrets/token1".
_NOT_SECRET = re.compile(
    r"(?i)your|here|example|x{4}|placeholder|dummy|changeme|redacted|insert|<|\$\{|\{\{|://"
    r"|^[/~.]|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----(.*?)(?:-----END \1-----|\Z)", re.S
)
_BASE64 = re.compile(r"[A-Za-z0-9+/=]")

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})\b"
)
_DOC_TLDS = frozenset({"test", "example", "invalid", "localhost", "local"})
_STAND_IN_DOMAINS = frozenset({"domain.com", "company.com", "mydomain.com"})
_NON_PERSONAL = frozenset({"git", "noreply", "no-reply", "donotreply"})

_PHONE = re.compile(
    r"(?<![\w+.\-/])(?:"
    r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\)|[ .-]\d{1,5})(?:[ .-]\d{1,8}){1,4}"
    r"|(?:1[ .-])?\((?P<a1>\d{3})\)[ .-]?(?P<x1>\d{3})[ .-]\d{4}"
    r"|(?:1[ .-])?(?P<a2>\d{3})(?P<sep>[.-])(?P<x2>\d{3})(?P=sep)\d{4}"
    r")(?![\w\-/]|\.\d)"
)
# Pieces every phone shape contains, each opening with a literal (and gated by a one-character
# memchr test); the full pattern only runs around their hits.
_PHONE_HINTS = (
    ("+", re.compile(r"\+\d")),
    ("-", re.compile(r"-\d{3}-\d{4}")),
    (")", re.compile(r"\)[ .-]?\d{3}[ .-]\d{4}")),
    (".", re.compile(r"\.\d{3}\.\d{4}")),
)


def _starts_word(text: str, pos: int) -> bool:
    return pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] == "_")


def _api_keys(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for hint, label, pattern in _PROVIDERS:
        if hint not in text:
            continue
        for m in pattern.finditer(text):
            token = m.group()
            if not _starts_word(text, m.start()) or "example" in token.lower():
                continue  # "task-..." is no key; AWS documents AKIAIOSFODNN7EXAMPLE
            if label.startswith("Hugging"):
                random_looking = token != token.lower() and token != token.upper()  # letters only
            else:
                random_looking = _mixed(token)  # "sk-this-is-a-long-word" has no digit
            if random_looking:
                name = "Anthropic API key" if token.startswith("sk-ant-") else label
                found.append((m.start(), m.end(), name))
    if any(label.startswith("AWS") for *_, label in found):
        for m in _AWS_SECRET.finditer(text):
            if _random_looking(m.group(), 4.0) and m.group() != m.group().lower():
                found.append((m.start(), m.end(), "AWS secret access key"))
    for sep in "=:":
        i = text.find(sep)
        while i >= 0:
            m = _VALUE.match(text, i + 1)
            if m and _random_looking(m.group(2), 3.5) and _KEY_BEFORE.search(text, max(0, i - 48), i):
                found.append((m.start(2), m.end(2), "secret-looking value"))
            i = text.find(sep, i + 1)
    if "earer" in text:
        for m in _BEARER.finditer(text):
            if _random_looking(m.group(1), 3.5):
                found.append((m.start(1), m.end(1), "bearer token"))
    return found


def _random_looking(value: str, min_entropy: float) -> bool:
    return (
        _mixed(value)
        and value != value.upper()  # CONSTANT_NAMES_2 are not secrets
        and entropy(value) >= min_entropy
        and not _NOT_SECRET.search(value)
    )


def _is_documentation_email(local: str, domain: str) -> bool:
    labels = domain.lower().split(".")
    return (
        labels[-1] in _DOC_TLDS
        or any(lb == "example" or lb.startswith(("example-", "your")) for lb in labels)
        or ".".join(labels[-2:]) in _STAND_IN_DOMAINS
        or local.lower() in _NON_PERSONAL
    )


def _phones(text: str) -> list[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for char, hint in _PHONE_HINTS:
        if char not in text:
            continue
        for h in hint.finditer(text):
            for m in _PHONE.finditer(text, max(0, h.start() - 16), h.end() + 40):
                area, exchange = m.group("a1") or m.group("a2"), m.group("x1") or m.group("x2")
                if area is None:  # international: the digit count decides
                    if not 10 <= sum(c.isdigit() for c in m.group()) <= 15:
                        continue
                elif "555" in (area, exchange):
                    continue  # fictional numbers (films, docs)
                found.add(m.span())
    return sorted(found)


class SecretsValidator(Validator):
    """Flags API keys, private keys, email addresses and phone numbers; messages mask them."""

    name: ClassVar[str] = "secrets"

    def __init__(self, config: SecretsConfig | None = None) -> None:
        self.config = config or SecretsConfig()

    def check(self, sample: Sample) -> Result:
        texts = texts_to_check(sample, prompts=self.config.check_prompts, roles=_ALL_ROLES, system=True)
        return Result(sample, [v for t in texts for v in self._scan(t)])

    def _scan(self, t: CheckedText) -> list[Verdict]:
        cfg, text = self.config, t.text
        found: list[tuple[int, int, str, str]] = []  # start, end, code, message
        if "-----BEGIN" in text:
            for m in _PRIVATE_KEY.finditer(text):
                if len(_BASE64.findall(m.group(2))) >= 64:
                    size = m.end() - m.start()
                    msg = f'private key block "-----BEGIN {m.group(1)}-----" ({size} characters)'
                    found.append((m.start(), m.end(), "secret.private_key", msg))
        for a, b, label in _api_keys(text):
            found.append((a, b, "secret.api_key", f'{label} "{mask(text[a:b])}"'))
        if cfg.emails and "@" in text:
            for m in _EMAIL.finditer(text):
                local = text[m.start() : text.index("@", m.start())]
                if not _is_documentation_email(local, m.group(1)):
                    found.append((m.start(), m.end(), "pii.email", f'email address "{mask(m.group())}"'))
        if cfg.phones:
            for a, b in _phones(text):
                found.append((a, b, "pii.phone", f'phone number "{mask(text[a:b])}"'))
        out: list[Verdict] = []
        last_end = -1
        for a, b, code, msg in sorted(found, key=lambda f: (f[0], -f[1])):
            if a < last_end:
                continue  # one finding per place: a JWT inside a Bearer header, a key in a PEM block
            last_end = b
            severity = cfg.pii_severity if code.startswith("pii.") else cfg.api_key_severity
            span = Span(start=a, end=b, field=t.field)
            out.append(verdict(self.name, code, f"{msg} in {t.where}", span=span, severity=severity))
        return out
