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
and not a stand-in or reference (your, example, xxx, `${VAR}`, URLs, paths, `settings.key`). Not
a credential either: a ciphertext or hash given as input (`encrypted_password = "..."`,
`password_hash: ...`) and a password made for the user ("Here is your new password: ...", "a
strong random password: ...", `{"password": ...}` after a `generate_password` call, within 200
characters before it). Provider-shaped keys are flagged whatever surrounds them.
Provider-shaped tokens must still mix letters and digits (Hugging Face's: upper and lower case),
so prose such as "sk-this-is-a-very-long-word" is left alone; anything containing "example" (AWS's
documented AKIAIOSFODNN7EXAMPLE) is too.

More provider shapes (`secret.api_key`): GitLab `glpat-`/`gldt-`/`glrt-`, PyPI `pypi-AgE...`
(a macaroon, 50+ characters), SendGrid `SG.<22>.<43>`, Azure storage `AccountKey=<86>==` in a
connection string (the Azurite emulator's published `devstoreaccount1` key is not flagged),
Discord bot tokens (`<base64 of a numeric user id>.<6>.<27+>`: the first part must decode to
digits, so dotted names are left alone), npm `npm_` + 36, Twilio `SK`/`AC` + 32 lowercase hex
(a whole word: a 40-character git SHA is not one).

URL credentials (`secret.url_credentials`): the password in `scheme://user:password@host`
(`https://admin:pw@db.internal`); the span is the password, and the address is not also an
email. Stand-ins are not flagged: `password`/`pass`/`secret`, the user name or the scheme as
password (`guest:guest@`, `redis://default:redis@`), `<password>`, `${DB_PASS}`, masked `****`,
and hosts at documentation domains (example.com, .test, ...).

Private keys (`secret.private_key`): a `-----BEGIN ... PRIVATE KEY-----` block with at least 64
base64 characters in it (a "..." stand-in in documentation is not a key).

Emails (`pii.email`): not flagged at documentation domains (RFC 2606/6761: example.com/.org/
.net, any `example`/`example-*` label, the .test/.example/.invalid/.localhost/.local TLDs),
obvious stand-ins (domain.com, company.com, yourdomain.com, any `your*` label), for
non-personal senders (`git@`, `noreply@`), or for a stand-in word as the whole local part
(`example@gmail.com`, `test1@`, `user@`). Real-looking addresses are flagged (`jane.doe@gmail.com`
too: a Doe may be a real person).

Phones (`pii.phone`): `+CC` international numbers with separators and 10-15 digits, and US
numbers `(415) 867-5309`, `415-867-5309`, `415.867.5309` (optionally `1-` first). Never a bare
digit run (GSM8K arithmetic), years, dates, versions or ISBNs, since they lack these shapes. The
fictional 555 numbers of films and docs (area code or exchange 555) are not flagged, nor is a
business's published line ("Call us at 650-636-4884", "our customer service: ...", toll-free).

Masking (`mask_secrets`, `mask_strings`): every output and the store show a finding of any of
these kinds as a same-length masked form (`sk-p*********9f`), so a span into the text stays
valid; `mask` is the short form verdict messages use.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

from synthgate.schemas.chain_config import SecretsConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span, Verdict
from synthgate.validators.base import CheckedText, Result, Validator, texts_to_check
from synthgate.validators.codes import verdict

_ALL_ROLES = frozenset({"user", "assistant", "tool"})


def _kept(n: int) -> tuple[int, int]:
    """How many leading and trailing characters a masked form of an n-character secret shows."""
    return min(4, n // 4), min(2, n // 8)


def mask(secret: str) -> str:
    """At most 4 leading and 2 trailing characters of `secret`, fewer for short ones.

    >>> mask("sk-proj-0123456789abcdefghij9f")
    'sk-p…[masked]…9f'
    >>> mask("short")
    's…[masked]…'
    """
    n = len(secret)
    lead, trail = _kept(n)
    return f"{secret[:lead]}…[masked]…{secret[n - trail :] if trail else ''}"


def mask_same_length(secret: str) -> str:
    """`secret` with all but the characters `mask` keeps replaced by `*`: the length is unchanged.

    >>> mask_same_length("sk-proj-0123456789abcdefghij9f")
    'sk-p************************9f'
    """
    n = len(secret)
    lead, trail = _kept(n)
    return secret[:lead] + "*" * (n - lead - trail) + secret[n - trail :]


def entropy(s: str) -> float:
    """Shannon entropy of `s` in bits per character."""
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def _mixed(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


# (hint, provider label, pattern): the pattern runs only when its hint is in the text (one
# substring test; "_" is a single character, found by memchr; a pattern hint must match).
# Patterns open with their literal prefix so the regex engine jumps to candidates; the word
# boundary before them is checked in Python (_starts_word).
_PROVIDERS: list[tuple[str | re.Pattern[str], str, re.Pattern[str]]] = [
    ("sk-", "OpenAI API key", re.compile(r"sk-(?:ant-(?:[a-z]+\d\d-)?|proj-|svcacct-)?[\w-]{20,}")),
    ("IA", "AWS access key id", re.compile(r"A[KS]IA[A-Z0-9]{16}\b")),
    ("_", "GitHub token", re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}\b|github_pat_\w{22,}")),
    ("_", "Hugging Face token", re.compile(r"hf_[A-Za-z0-9]{30,}\b")),
    ("_", "Stripe secret key", re.compile(r"[sr]k_live_[A-Za-z0-9]{16,}")),
    ("xox", "Slack token", re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}")),
    ("AIza", "Google API key", re.compile(r"AIza[\w-]{35}")),
    ("eyJ", "JWT", re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
    ("gl", "GitLab token", re.compile(r"gl(?:pat|dt|rt)-[\w-]{20,}")),
    ("pypi-", "PyPI token", re.compile(r"pypi-AgE[\w-]{50,}")),
    ("SG.", "SendGrid API key", re.compile(r"SG\.[\w-]{22}\.[\w-]{43}\b")),
    # Only the key itself is the span: the rest of the connection string is not secret.
    ("AccountKey=", "Azure storage account key", re.compile(r"(?<=AccountKey=)[A-Za-z0-9+/]{86}==")),
    # Its hint is a pattern: "." is in nearly every text, the dotted middle part is not.
    (
        re.compile(r"\.[\w-]{6}\.[\w-]{27}"),
        "Discord bot token",
        re.compile(r"[MNO][A-Za-z0-9]{23,27}\.[\w-]{6}\.[\w-]{27,40}\b"),
    ),
    ("npm_", "npm token", re.compile(r"npm_[A-Za-z0-9]{36}\b")),
    ("AC", "Twilio account SID", re.compile(r"AC[0-9a-f]{32}\b")),
    ("SK", "Twilio API key", re.compile(r"SK[0-9a-f]{32}\b")),
]
# Microsoft's storage emulator (Azurite) uses one published key for the account devstoreaccount1.
_AZURE_EMULATOR = "devstoreaccount1"
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
    r"(?i)your|here|example|x{4}|placeholder|dummy|changeme|redacted|masked|insert|<|\$\{|\{\{|://"
    r"|^[/~.]|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$"
)
# scheme://user:password@host; the lookbehind keeps the scheme whole ("https", "postgres+psycopg").
_URL_CREDENTIALS = re.compile(
    r"(?<![\w+.-])(?P<scheme>[A-Za-z][\w+.-]{1,20})://(?P<user>[^\s:/@\"'<>]*):(?P<password>[^\s/@\"'<>]+)@"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
)
_STAND_IN_PASSWORDS = frozenset({"password", "pass", "passwd", "pwd", "secret", "mypassword", "pass123"})
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
# Local parts that are a stand-in word, not a person, at any domain: example@gmail.com in a
# regex demo, test@..., user@..., someone@... (a name such as jane.doe stays personal data).
_STAND_IN_LOCALS = frozenset(
    {
        "example",
        "sample",
        "test",
        "testing",
        "user",
        "username",
        "someone",
        "somebody",
        "email",
        "name",
        "foo",
        "bar",
        "foobar",
        "abc",
        "xyz",
    }
)

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


# Providers whose keys hold a "-": where the text has none (one memchr test), their slower
# multi-character hint searches are skipped.
_NEED_DASH = frozenset({"OpenAI API key", "Slack token", "GitLab token", "PyPI token"})


def _api_keys(text: str, generated: bool = False) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    dash = "-" in text
    for hint, label, pattern in _PROVIDERS:
        if not dash and label in _NEED_DASH:
            continue
        if hint not in text if isinstance(hint, str) else not hint.search(text):
            continue
        for m in pattern.finditer(text):
            token = m.group()
            if not _starts_word(text, m.start()) or "example" in token.lower():
                continue  # "task-..." is no key; AWS documents AKIAIOSFODNN7EXAMPLE
            if label.startswith("Discord") and not _is_discord_id(token.split(".", 1)[0]):
                continue  # a dotted name, not base64 of a user id
            if label.startswith("Azure") and _AZURE_EMULATOR in text[max(0, m.start() - 300) : m.start()]:
                continue
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
            if (
                m
                and _random_looking(m.group(2), 3.5)
                and _KEY_BEFORE.search(text, max(0, i - 48), i)
                and not (generated and _PASSWORD_NAME.search(text, max(0, i - 48), i))
                and not _not_a_credential(text, i)
            ):
                found.append((m.start(2), m.end(2), "secret-looking value"))
            i = text.find(sep, i + 1)
    if "earer" in text:
        for m in _BEARER.finditer(text):
            if _random_looking(m.group(1), 3.5):
                found.append((m.start(1), m.end(1), "bearer token"))
    return found


# A generic value that is not the data author's credential: a ciphertext or hash given as input
# (`encrypted_password = "..."`), or a password a tool generated for the user ("Here is your new
# password: ...", `{"password": ...}` after a generate_password call). Provider-shaped keys are
# never excused: only the generic "name = random value" rule consults this.
_CIPHER_NAME = re.compile(
    r"""(?i)(?<![A-Za-z])(?:enc(?:rypted)?|hash(?:ed)?|cipher(?:text)?|digest)[\w.-]*["']?\s*$"""
)
_GENERATED = re.compile(
    r"(?i)\b(?:your|generated|random|suggested|strong)\b[ \w-]{0,24}passw|generate\w*passw"
)
_GENERATED_WINDOW = 200
# A conversation that called a password generator: its tool results and the answer carry the
# generated password (`{"password": "aB3#..."}`), named only "password" where it appears.
_GENERATOR_CALL = re.compile(r"(?i)generate\w*passw")
_PASSWORD_NAME = re.compile(r"""(?i)passw(?:or)?d["']?\s*$""")


def _not_a_credential(text: str, sep: int) -> bool:
    """The value after the separator at `sep` is a ciphertext or a freshly generated password."""
    if _CIPHER_NAME.search(text, max(0, sep - 48), sep):
        return True
    return bool(_GENERATED.search(text, max(0, sep - _GENERATED_WINDOW), sep))


def _is_discord_id(part: str) -> bool:
    """Whether `part` is base64 of a numeric (snowflake) user id, as a Discord token's first part is."""
    try:
        decoded = base64.b64decode(part + "=" * (-len(part) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 15 <= len(decoded) <= 20 and decoded.isdigit()


def _url_credentials(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Passwords in URLs (start, end, the URL with the password masked), and where every
    `user:password@host` sits, stand-ins included: an address inside one is a login, not an email."""
    found, logins = [], []
    for m in _URL_CREDENTIALS.finditer(text):
        scheme, user, password, host = m.group("scheme", "user", "password", "host")
        logins.append((m.start("user"), m.end()))
        stand_in = (
            password.lower() in _STAND_IN_PASSWORDS
            or password in (user, scheme)  # guest:guest, redis://default:redis@...
            or "***" in password  # masked already
            or not password.strip("xX.")
            or _NOT_SECRET.search(password)
            or password.startswith(("$", "%", "{"))
        )
        if stand_in or _is_documentation_domain(host):
            continue
        shown = f"{text[m.start() : m.start('password')]}{mask(password)}@{host}"
        found.append((m.start("password"), m.end("password"), shown))
    return found, logins


def _random_looking(value: str, min_entropy: float) -> bool:
    return (
        _mixed(value)
        and value != value.upper()  # CONSTANT_NAMES_2 are not secrets
        and entropy(value) >= min_entropy
        and not _NOT_SECRET.search(value)
    )


def _is_documentation_domain(domain: str) -> bool:
    labels = domain.lower().split(".")
    return (
        labels[-1] in _DOC_TLDS
        or any(lb == "example" or lb.startswith(("example-", "your")) for lb in labels)
        or ".".join(labels[-2:]) in _STAND_IN_DOMAINS
    )


def _is_documentation_email(local: str, domain: str) -> bool:
    local = local.lower()
    return (
        _is_documentation_domain(domain)
        or local in _NON_PERSONAL
        or local.rstrip("0123456789") in _STAND_IN_LOCALS
    )


# A business's published number: "Call us at", "contact our office", "toll-free", "hotline".
_BUSINESS_LINE = re.compile(
    r"\b(?:(?:call|text|contact|reach|phone) us|our (?:office|store|shop|team|hotline|support|sales|"
    r"customer service)|toll[- ]free|hotline|customer (?:service|support|care))\b[^.!?\n]{0,25}$",
    re.IGNORECASE,
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
                if _BUSINESS_LINE.search(text, max(0, m.start() - 40), m.start()):
                    continue  # a shop's published line ("Call us at ..."), not a person's
                found.add(m.span())
    return sorted(found)


class Finding(NamedTuple):
    """One secret or personal datum in a text: its span, its reason code and a masked description."""

    start: int
    end: int
    code: str
    message: str


def find_secrets(
    text: str, *, emails: bool = True, phones: bool = True, generated: bool = False
) -> list[Finding]:
    """Every secret and PII span in `text`, in order, one per place (a JWT inside a Bearer header,
    a key inside a PEM block and an address inside a URL are reported once). `generated`: the text
    answers a password generator's call, so a value named "password" is the generated one.

    >>> [f.code for f in find_secrets("Write to jane.doe@gmail.com or call 415-867-5309.")]
    ['pii.email', 'pii.phone']
    """
    # An audit scans each text twice (the secrets check, then the store masking what it writes)
    # and a shared system prompt once per record: the scan is pure, so repeats of a recent text
    # (up to _CACHED_CHARS long: the cache stays a few MB) come from a cache.
    if len(text) <= _CACHED_CHARS:
        return list(_find_secrets_cached(text, emails, phones, generated))
    return _find_secrets(text, emails, phones, generated)


_CACHED_CHARS = 8_192


@lru_cache(maxsize=4_096)  # > the texts of a default 512-record batch, scanned before it is stored
def _find_secrets_cached(text: str, emails: bool, phones: bool, generated: bool) -> tuple[Finding, ...]:
    return tuple(_find_secrets(text, emails, phones, generated))


def _find_secrets(text: str, emails: bool, phones: bool, generated: bool) -> list[Finding]:
    found: list[Finding] = []
    if "-----BEGIN" in text:
        for m in _PRIVATE_KEY.finditer(text):
            if len(_BASE64.findall(m.group(2))) >= 64:
                size = m.end() - m.start()
                msg = f'private key block "-----BEGIN {m.group(1)}-----" ({size} characters)'
                found.append(Finding(m.start(), m.end(), "secret.private_key", msg))
    for a, b, label in _api_keys(text, generated):
        found.append(Finding(a, b, "secret.api_key", f'{label} "{mask(text[a:b])}"'))
    logins: list[tuple[int, int]] = []
    if "://" in text:
        urls, logins = _url_credentials(text)
        for a, b, shown in urls:
            found.append(Finding(a, b, "secret.url_credentials", f'password in URL "{shown}"'))
    if emails and "@" in text:
        for m in _EMAIL.finditer(text):
            if any(a <= m.start() < e for a, e in logins):
                continue  # "admin:pw@db.internal" is a login, already reported as one
            local = text[m.start() : text.index("@", m.start())]
            if not _is_documentation_email(local, m.group(1)):
                found.append(Finding(m.start(), m.end(), "pii.email", f'email address "{mask(m.group())}"'))
    if phones:
        for a, b in _phones(text):
            found.append(Finding(a, b, "pii.phone", f'phone number "{mask(text[a:b])}"'))
    out: list[Finding] = []
    last_end = -1
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if f.start >= last_end:
            out.append(f)
            last_end = f.end
    return out


def mask_secrets(text: str) -> str:
    """`text` with every secret and PII span `find_secrets` reports masked in place, same length.

    Same length keeps every span into the text valid (a verdict's span still points at its
    finding), and masking is idempotent: a masked span no longer has the shape that found it.

    >>> mask_secrets("Mail jane.doe@gmail.com today")
    'Mail jane************om today'
    """
    found = find_secrets(text)
    if not found:
        return text
    parts, pos = [], 0
    for f in found:
        parts += [text[pos : f.start], mask_same_length(text[f.start : f.end])]
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def mask_strings(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings, numbers) with every string, keys
    included, passed through `mask_secrets`; the structure is untouched, so JSON stays valid."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {mask_strings(k) if isinstance(k, str) else k: mask_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_strings(v) for v in value]
    return value


def mask_sample(sample: Sample) -> Sample:
    """`sample` with every string in it (turns, completion, reasoning, metadata) masked; its id is
    recomputed when anything changed, so it stays the hash of the content it carries. The same
    object when there was nothing to mask (the common case, checked first without copying)."""
    texts = (sample.system_prompt, sample.completion, sample.reasoning, sample.task_type)
    metadata = sample.metadata.model_dump(mode="json", exclude_defaults=True)
    if (
        not any(t and find_secrets(t) for t in texts)
        and not any(find_secrets(m.content) for m in sample.prompt)
        and mask_strings(metadata) == metadata
    ):
        return sample
    return Sample.model_validate(mask_strings(sample.model_dump(mode="json", exclude={"id"})))


class SecretsValidator(Validator):
    """Flags API keys, private keys, URL credentials, email addresses and phone numbers; messages
    mask them."""

    name: ClassVar[str] = "secrets"

    def __init__(self, config: SecretsConfig | None = None) -> None:
        self.config = config or SecretsConfig()

    def check(self, sample: Sample) -> Result:
        texts = texts_to_check(sample, prompts=self.config.check_prompts, roles=_ALL_ROLES, system=True)
        generator = any(m.role == "assistant" and _GENERATOR_CALL.search(m.content) for m in sample.prompt)
        return Result(sample, [v for t in texts for v in self._scan(t, generator)])

    def _scan(self, t: CheckedText, generator: bool = False) -> list[Verdict]:
        cfg = self.config
        out: list[Verdict] = []
        # Only the generator's results (tool turns) and the answer carry its password; a user turn
        # pasting a password is still the user's credential.
        generated = generator and (t.field == "completion" or t.where.endswith("(tool)"))
        for f in find_secrets(t.text, emails=cfg.emails, phones=cfg.phones, generated=generated):
            severity = cfg.pii_severity if f.code.startswith("pii.") else cfg.api_key_severity
            span = Span(start=f.start, end=f.end, field=t.field)
            out.append(verdict(self.name, f.code, f"{f.message} in {t.where}", span=span, severity=severity))
        return out
