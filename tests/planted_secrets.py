"""Fake secrets of every shape synthgate detects, shared by the validator and the output tests.

Assembled at run time (prefix + seeded random characters) so that no literal in the tests looks
like a real key to secret scanners.
"""

from __future__ import annotations

import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM, seed: int = 7) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


KEYS = {
    "openai": "sk-" + "proj-" + rand(48),
    "openai_legacy": "sk" + "-" + rand(48, seed=1),
    "anthropic": "sk-" + "ant-" + "api03-" + rand(90, ALNUM + "-_", seed=2),
    "aws": "AK" + "IA" + rand(16, string.ascii_uppercase + string.digits, seed=3),
    "github": "gh" + "p_" + rand(36, seed=4),
    "github_pat": "github" + "_pat_" + rand(82, ALNUM + "_", seed=5),
    "slack": "xo" + "xb-" + rand(12, string.digits, seed=6) + "-" + rand(24, seed=6),
    "google": "AI" + "za" + rand(35, ALNUM + "-_", seed=8),
    "huggingface": "hf" + "_" + rand(34, string.ascii_letters, seed=9),
    "stripe": "sk" + "_live_" + rand(24, seed=10),
    "jwt": b64url({"alg": "HS256", "typ": "JWT"})
    + "."
    + b64url({"sub": "42", "name": "Ann"})
    + "."
    + rand(43),
    "gitlab": "gl" + "pat-" + rand(20, ALNUM + "-_", seed=13)[:-1] + "Q",
    "pypi": "py" + "pi-AgEIcHlwaS5vcmc" + rand(120, ALNUM + "-_", seed=14),
    "sendgrid": "S" + "G." + rand(22, seed=15) + "." + rand(43, seed=16),
    # The first part of a Discord token is base64 of the bot's numeric user id.
    "discord": base64.b64encode(b"1087654321098765432").decode().rstrip("=")
    + "."
    + rand(6, seed=17)
    + "."
    + rand(38, seed=18),
    "npm": "np" + "m_" + rand(36, seed=19),
    "twilio_sid": "A" + "C" + rand(32, "0123456789abcdef", seed=20),
    "twilio_key": "S" + "K" + rand(32, "0123456789abcdef", seed=21),
}
AZURE_KEY = rand(86, ALNUM + "+/", seed=22) + "=="


PRIVATE_KEY_BODY = "\n".join(rand(64, ALNUM + "+/", seed=s) for s in range(5))
URL_PASSWORD = rand(14, seed=24)
EMAIL = "jane.doe@gmail.com"
PHONE = "+44 20 7946 0958"


def all_planted() -> list[str]:
    """One text per supported shape, as it would appear in a record."""
    return [
        *KEYS.values(),
        f"AccountKey={AZURE_KEY}",
        f"https://admin:{URL_PASSWORD}@db.internal",
        f"-----BEGIN RSA PRIVATE KEY-----\n{PRIVATE_KEY_BODY}\n-----END RSA PRIVATE KEY-----",
        EMAIL,
        PHONE,
    ]


def secret_needles() -> list[str]:
    """What must never appear in an output: each secret itself, and its middle (all a masked
    form may not show)."""
    secrets = [*KEYS.values(), AZURE_KEY, URL_PASSWORD, *PRIVATE_KEY_BODY.splitlines(), EMAIL, PHONE]
    return [n for s in secrets for n in (s, s[4:-2])]
