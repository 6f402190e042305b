"""Secrets: provider-shaped API keys, private keys, emails and phone numbers are flagged at their
spans, messages only ever show a masked form, and numbers that are not phones stay clean.

Fake keys come from tests/planted_secrets.py, assembled at run time so that no literal looks like
a real key to secret scanners.
"""

from __future__ import annotations

import json

import pytest
from planted_secrets import ALNUM, AZURE_KEY, EMAIL, KEYS, all_planted, rand

from synthgate.schemas.chain_config import ChainConfig, SecretsConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.chain import Chain
from synthgate.validators.secrets import SecretsValidator, find_secrets, mask, mask_secrets, mask_strings


def sample(completion: str, prompt: str = "Show me the config.", system: str | None = None) -> Sample:
    return Sample(system_prompt=system, prompt=[Message(role="user", content=prompt)], completion=completion)


def check(completion: str, prompt: str = "Show me the config.", **config) -> list:
    return SecretsValidator(SecretsConfig(**config)).check(sample(completion, prompt)).verdicts


def found(completion: str, **config) -> list[tuple[str, str]]:
    return [(v.code, completion[v.span.start : v.span.end]) for v in check(completion, **config)]


# ---- API keys -------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", sorted(KEYS))
def test_provider_shaped_key_is_flagged_at_its_span(provider: str):
    key = KEYS[provider]
    completion = f"Set it like this:\nclient = Client({key!r})\nthen call it."
    verdicts = check(completion)
    assert [(v.code, v.severity, completion[v.span.start : v.span.end]) for v in verdicts] == [
        ("secret.api_key", "block", key)
    ]


def test_aws_secret_next_to_an_access_key_id_is_flagged_too():
    secret = rand(40, ALNUM + "/+", seed=11)
    completion = f"[default]\naws_access_key_id = {KEYS['aws']}\naws_secret_access_key = {secret}\n"
    assert found(completion) == [("secret.api_key", KEYS["aws"]), ("secret.api_key", secret)]


def test_generic_credential_assignments_with_random_values_are_flagged():
    value = rand(32, seed=12)
    for completion in (
        "api_key" + ' = "' + value + '"',
        '{"password": "' + value + '"}',
        "export DB_TOKEN=" + value,
        "curl -H 'Authorization: Bearer " + value + "' https://api.acme.io",
    ):
        assert found(completion) == [("secret.api_key", value)], completion


@pytest.mark.parametrize(
    "completion",
    [
        "api_key" + ' = "YOUR_API_KEY_HERE"',
        'api_key = os.environ["OPENAI_API_KEY"]',
        "token" + ' = "' + "${GITHUB_TOKEN}" + '"',
        "key" + ' = "settings.openai_key_v2"',
        "token_url" + ' = "https://oauth2.googleapis.com/token"',
        "MAX_TOKENS = 4096; SECRET_NAME = 'PROD_DB_PASSWORD_V2'",
        "Use the task-oriented-dialogue-system-benchmark-suite for that.",
        "Our sk-learn-style-preprocessing-pipeline-for-tabular-data works.",
        "Load hf_tokenizerconfigurationfileforthismodel from the hub.",
        "AWS documents the key AKIAIOSFODNN7EXAMPLE in its guides.",
        "Stripe's docs use " + "sk" + "_test_" + rand(24) + " as a test key.",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it; AKIA is a prefix.",
    ],
)
def test_placeholders_references_and_lookalikes_are_not_keys(completion: str):
    assert found(completion) == []


def test_azure_storage_key_in_a_connection_string_is_flagged_at_the_key_only():
    conn = (
        f"DefaultEndpointsProtocol=https;AccountName=prodlogs;AccountKey={AZURE_KEY};"
        "EndpointSuffix=core.windows.net"
    )
    assert found(f'conn_str = "{conn}"') == [("secret.api_key", AZURE_KEY)]


@pytest.mark.parametrize(
    "completion",
    [
        # Microsoft's storage emulator account and its published key, from the Azurite docs.
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        + "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
        + "K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        "Create a token (it starts with glpat-) and paste glpat-xxxxxxxxxxxxxxxxxxxx into the form.",
        "The token looks like pypi-AgEIcHlwaS5vcmc followed by a long string; pip install pypi-simple.",
        "SendGrid keys look like SG.xxxxxxxxxxxxxxxxxxxxxx.yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy.",
        "Read process.env.npm_package_version or npm_config_registry in the script.",
        "Twilio's docs write the SID as ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX and keys as SKxxxxxxxx.",
        "Import MicrosoftExtensionsLogging1.Config.AbstractionsForDependencyInjection2 in C#.",
        "Fixed in 3f786850e387550fdab836ed7e6dc881de23001b (md5 9e107d9d372bb6826bd81d3542a419d6).",
        "Request id 123e4567-e89b-12d3-a456-426614174000, digest sha256:"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.",
        'img = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'
        'YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="',
    ],
)
def test_new_provider_shape_lookalikes_from_docs_and_code_are_not_keys(completion: str):
    assert found(completion) == []


# ---- URL credentials ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("https://admin:pw@db.internal", "pw"),
        ("postgres://app:" + rand(16, seed=23) + "@10.0.3.7:5432/orders", rand(16, seed=23)),
        ("mongodb+srv://svc:Tr0ub4dor3@cluster0.ab1cd.mongodb.net/prod", "Tr0ub4dor3"),
    ],
)
def test_password_in_a_url_is_url_credentials_at_the_password_not_an_email(url: str, password: str):
    completion = f"Connect with {url} and run the migration."
    verdicts = check(completion)
    assert [(v.code, v.severity, completion[v.span.start : v.span.end]) for v in verdicts] == [
        ("secret.url_credentials", "block", password)
    ]
    shown = verdicts[0].message.split('"')[1]
    assert mask(password) in shown and password not in shown


@pytest.mark.parametrize(
    "completion",
    [
        "DATABASE_URL=postgres://user:password@localhost:5432/mydb",
        "mongodb+srv://<username>:<password>@cluster0.mongodb.net/test",
        "Use https://${USER}:${TOKEN}@git.acme.io/repo.git in CI.",
        "redis://default:redis@cache:6379 and amqp://guest:guest@rabbit:5672",
        "https://alice:s3cr3tPass@example.com/private is the documented form.",
        "Clone git@github.com:org/repo.git or ssh://git@github.com/org/repo.git",
        "Open https://****:****@db.internal after masking.",
    ],
)
def test_url_credential_stand_ins_and_logins_without_password_are_not_flagged(completion: str):
    assert [c for c, _ in found(completion)] == []


# ---- private keys -------------------------------------------------------------------------------
def test_private_key_block_is_flagged_as_one_span():
    body = "\n".join(rand(64, ALNUM + "+/", seed=s) for s in range(5))
    block = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    completion = f"Save this as id_rsa:\n{block}\nand chmod 600 it."
    verdicts = check(completion)
    assert [(v.code, completion[v.span.start : v.span.end]) for v in verdicts] == [
        ("secret.private_key", block)
    ]
    assert body[:20] not in verdicts[0].model_dump_json()


def test_private_key_stand_in_in_documentation_is_not_flagged():
    assert found("-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----") == []


# ---- emails -------------------------------------------------------------------------------------
def test_real_looking_emails_are_flagged_as_pii_warnings():
    completion = "Write to jane.doe@gmail.com or m.rossi@unimi.it for details."
    verdicts = check(completion)
    assert [(v.code, v.severity, completion[v.span.start : v.span.end]) for v in verdicts] == [
        ("pii.email", "warn", "jane.doe@gmail.com"),
        ("pii.email", "warn", "m.rossi@unimi.it"),
    ]


@pytest.mark.parametrize(
    "completion",
    [
        "Contact user@example.com or admin@mail.example.org.",
        "Send it to info@example-domain.com, sales@yourcompany.com or a@b.test.",
        "Clone git@github.com:org/repo.git and install pkg@1.2.3.",
        "Replies from noreply@github.com are automatic. @media (max-width: 600px) {}",
    ],
)
def test_documentation_and_non_personal_addresses_are_not_flagged(completion: str):
    assert found(completion) == []


# ---- phones -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "phone", ["+44 20 7946 0958", "+1 (415) 867-5309", "(415) 867-5309", "415-867-5309", "415.867.5309",
              "1-800-438-7764", "+49 30 12345678", "+33 1 42 68 53 00"],
)  # fmt: skip
def test_phone_numbers_with_separators_are_flagged(phone: str):
    completion = f"You can reach Dana at {phone} during office hours."
    assert found(completion) == [("pii.phone", phone)]


@pytest.mark.parametrize(
    "completion",
    [
        "The war lasted from 1939-1945 and the treaty was signed on 1945-09-02.",
        "Upgrade from version 2.10.1 to 10.2.3.4; the IP is 192.168.100.200.",
        "ISBN 978-0-306-40615-7 and ISBN 0-306-40615-2 are the same book.",
        "Natalia sold 48/2 = <<48/2=24>>24 clips.\nShe sold 48+24 = <<48+24=72>>72.\n#### 72",
        "The total is 1234567890 and 12345678901234 units; 3 + 4 - 5 = 2.",
        "In the film she dials (555) 123-4567 and 555-0199.",
        "Score: 16 - 3 - 4 = 9, then 9 * 2 = 18 and +3 more gives 21.",
    ],
)
def test_years_versions_isbns_arithmetic_and_fictional_numbers_are_not_phones(completion: str):
    assert found(completion) == []


def test_real_gsm8k_style_answers_have_no_phone_findings():
    answer = (
        "Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4, so 16 - 3 - 4 = <<16-3-4=9>>9.\n"
        "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmers' market.\n#### 18"
    )
    assert found(answer) == []


# ---- masking ------------------------------------------------------------------------------------
def test_mask_keeps_at_most_four_leading_and_two_trailing_characters():
    key = KEYS["openai"]
    assert mask(key) == key[:4] + "…[masked]…" + key[-2:]
    assert mask("abcdefgh") == "ab…[masked]…h"


def test_no_verdict_field_ever_contains_the_full_secret():
    secrets = [*KEYS.values(), "jane.doe@gmail.com", "+44 20 7946 0958"]
    completion = "Here you go:\n" + "\n".join(f"value_{i}: {s}" for i, s in enumerate(secrets))
    verdicts = check(completion, prompt="Reuse " + KEYS["github"])
    assert len(verdicts) == len(secrets) + 1
    dumped = "\n".join(v.model_dump_json() for v in verdicts)
    for secret in secrets:
        assert secret not in dumped
        assert secret[4:-2] not in dumped
    assert all("[masked]" in v.message for v in verdicts)
    assert mask(KEYS["openai"]) in dumped


def test_mask_secrets_masks_every_finding_in_place_and_keeps_the_length():
    text = "Config:\n" + "\n".join(f"value_{i}: {s}" for i, s in enumerate(all_planted())) + "\nDone."
    masked = mask_secrets(text)
    assert len(masked) == len(text)
    for f in find_secrets(text):
        secret = text[f.start : f.end]
        assert secret not in masked and masked[f.start : f.end].count("*") >= len(secret) // 2
    assert masked.startswith("Config:\nvalue_0: ") and masked.endswith("\nDone.")
    assert mask_secrets(masked) == masked  # idempotent: masked spans lose the shape that found them
    assert find_secrets(masked) == []


def test_mask_secrets_leaves_clean_text_alone():
    text = "Paris is the capital of France; see [location] and 1939-1945."
    assert mask_secrets(text) is text


def test_mask_strings_masks_keys_and_values_of_nested_json_and_keeps_the_structure():
    key = KEYS["openai"]
    value = {"id": 3, "meta": [{"note": f"use {key}"}, None, 1.5], key: True}
    masked = mask_strings(value)
    assert json.dumps(masked).count(key) == 0
    assert masked["id"] == 3 and masked["meta"][1:] == [None, 1.5]
    assert masked["meta"][0]["note"] == "use " + mask_secrets(key)


# ---- where, severity, switches ------------------------------------------------------------------
def test_secrets_in_prompt_turns_and_system_prompt_get_their_fields():
    key = KEYS["github"]
    s = Sample(
        system_prompt=f"Use token {key} for the API.",
        prompt=[
            Message(role="user", content=f"My token is {key}"),
            Message(role="assistant", content="Noted."),
            Message(role="user", content="Call me at +44 20 7946 0958"),
        ],
        completion="Done.",
    )
    verdicts = SecretsValidator().check(s).verdicts
    assert [(v.code, v.span.field, v.span.start) for v in verdicts] == [
        ("secret.api_key", "prompt", 12),
        ("pii.phone", "prompt", 11),
        ("secret.api_key", "system_prompt", 10),
    ]
    assert "prompt turn 1 of 3 (user)" in verdicts[0].message
    assert verdicts[1].message.endswith("in the prompt")


def test_severities_and_pii_families_are_configurable():
    completion = f"Key {KEYS['slack']}, mail jane.doe@gmail.com, phone 415-867-5309."
    verdicts = check(completion, api_key_severity="warn", pii_severity="block")
    assert [(v.code, v.severity) for v in verdicts] == [
        ("secret.api_key", "warn"),
        ("pii.email", "block"),
        ("pii.phone", "block"),
    ]
    assert [v.code for v in check(completion, emails=False, phones=False)] == ["secret.api_key"]


def test_chain_builds_the_secrets_validator_from_chain_config():
    chain = Chain(ChainConfig(order=["secrets"], secrets=SecretsConfig(check_prompts=False)))
    result = chain.run(sample("Reach me at jane.doe@gmail.com", prompt="Mail jane.doe@gmail.com"))
    assert [(v.code, v.span.field) for v in result.verdicts] == [("pii.email", "completion")]


# --- values that are not the data author's credentials (benchmark-tuned traps) -------------------

GENERATED = "aB3#fG7!kL9@xQ2"


@pytest.mark.parametrize(
    "completion",
    [
        f"Here is your new password: {GENERATED}. Please make sure to save it in a secure place.",
        f"Done! Strong random password: {GENERATED}",
        f'{{"name": "generate_random_password", "arguments": {{"length": 15}}}}\n'
        f'{{"password": "{GENERATED}"}}',
        'encrypted_password = "IH6nQj2Tx8rLpV0sWk5yZa"\nkey = load_key()\nprint(decrypt(encrypted_password))',
        "password_hash: $2b$12$R9h7cIPz0gi.URNNX3kh2OPST9",
    ],
    ids=["new-password", "generated-password", "tool-observation", "ciphertext-input", "hash"],
)
def test_generated_passwords_and_ciphertexts_are_not_leaked_credentials(completion: str):
    assert check(completion) == []


def test_the_same_random_value_as_a_config_password_is_still_a_secret_and_masked():
    config = f'DB_HOST=db.internal\nDB_PASSWORD="{GENERATED}"'
    assert found(config) == [("secret.api_key", GENERATED)]
    assert GENERATED not in mask_secrets(config)


def test_a_provider_key_next_to_the_words_new_password_is_still_flagged():
    key = KEYS["openai"]
    text = f"Here is your new password: {GENERATED}\nOPENAI_API_KEY={key}"
    assert ("secret.api_key", key) in found(text)


def test_a_stand_in_local_part_at_a_webmail_domain_is_not_pii_but_a_name_is():
    assert check("string = 'example@gmail.com'\nprint(bool(email_regex.match(string)))") == []
    assert found("Write to test1@yahoo.com or user@outlook.com.") == []
    assert found("Write to jane.doe@gmail.com.") == [("pii.email", "jane.doe@gmail.com")]


def generator_conversation(tool_name: str, user_extra: str = "") -> Sample:
    return Sample(
        prompt=[
            Message(
                role="user", content="Hi, I need a new password. Can you generate one for me?" + user_extra
            ),
            Message(role="assistant", content=f'<tool_call>\n{{"name": "{tool_name}"}}\n</tool_call>'),
            Message(role="tool", content=f'{{"password": "{GENERATED}"}}'),
        ],
        completion=f"Done, {GENERATED} is it. Keep it somewhere safe.",
    )


def test_a_password_generators_result_in_a_tool_turn_is_not_a_leaked_credential():
    assert SecretsValidator().check(generator_conversation("generate_random_password")).verdicts == []
    other_tool = SecretsValidator().check(generator_conversation("lookup_account")).verdicts
    assert [(v.code, v.span.field) for v in other_tool] == [("secret.api_key", "prompt")]


def test_a_password_the_user_pastes_into_a_generator_conversation_is_still_flagged():
    s = generator_conversation("generate_password", "\nMy old password: Qw7#zR2!pL9x")
    verdicts = SecretsValidator().check(s).verdicts
    assert [(v.code, v.span.field) for v in verdicts] == [("secret.api_key", "prompt")]
    assert s.prompt[0].content[verdicts[0].span.start : verdicts[0].span.end] == "Qw7#zR2!pL9x"
    assert "Qw7#zR2!pL9x" not in verdicts[0].message


def test_a_businesss_published_line_is_not_personal_data_but_a_persons_number_is():
    # a Yelp-style shop description (AlpacaEval prompt shape) next to a person's number
    assert found("This shop fits tires. Call us at 650-636-4884 or visit our website for a quote.") == []
    assert found("For help, our customer service line is (415) 867-5309.") == []
    assert found("You can reach me on my cell at 650-636-4884 tonight.") == [("pii.phone", "650-636-4884")]


def test_a_text_scanned_again_gives_the_same_findings_in_a_fresh_list():
    # Scans of recent texts are cached (the audit scans each text, then masks it for the store).
    text = f"Mail {EMAIL} or use {KEYS['openai']} today."
    first = find_secrets(text)
    first.clear()  # a caller's list is its own

    again = find_secrets(text)
    longer = find_secrets(text + " More prose follows here." * 400)  # too long to be cached

    assert [(f.code, text[f.start : f.end]) for f in again] == [
        ("pii.email", EMAIL),
        ("secret.api_key", KEYS["openai"]),
    ]
    assert longer == again
