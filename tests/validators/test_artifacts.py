"""Artifacts: unfilled placeholders, citation markers, special tokens, boilerplate and empty
completions are flagged with their spans; code, JSON, LaTeX, HTML and cited prose are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgate.schemas.chain_config import ArtifactsConfig, ChainConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.artifacts import ArtifactsValidator
from synthgate.validators.chain import Chain

ALPACA = Path(__file__).parents[1] / "data" / "alpaca_en_demo.json"


def sample(completion: str, prompt: str = "Tell me about it.", turns: list[Message] | None = None) -> Sample:
    return Sample(prompt=turns or [Message(role="user", content=prompt)], completion=completion)


def found(completion: str, prompt: str = "Tell me about it.", **config) -> list[tuple[str, str, str]]:
    """(code, field, flagged text) for every verdict."""
    s = sample(completion, prompt)
    texts = {"completion": s.completion, "prompt": s.prompt[-1].content}
    verdicts = ArtifactsValidator(ArtifactsConfig(**config)).check(s).verdicts
    return [(v.code, v.span.field, texts[v.span.field][v.span.start : v.span.end]) for v in verdicts]


# ---- placeholders ---------------------------------------------------------------------------------
def test_brace_placeholders_in_the_prompt_are_flagged_with_prompt_spans():
    assert found("Yes, usually.", prompt="Can we {action} without {requirement}?") == [
        ("artifact.unfilled_placeholder", "prompt", "{action}"),
        ("artifact.unfilled_placeholder", "prompt", "{requirement}"),
    ]


@pytest.mark.parametrize(
    "placeholder",
    ["{customer_name}", "{{name}}", "{{ var }}", "<PLACEHOLDER>", "<INSERT_NAME>", "[INSERT COMPANY NAME]",
     "[YOUR NAME]", "[Your Name]", "[insert date]", "[FIRST_NAME]", "[Customer’s Name]", "<your name here>"],
)  # fmt: skip
def test_unfilled_placeholder_in_completion_is_flagged_at_its_span(placeholder: str):
    completion = f"Dear {placeholder},\n\nThank you for your order."
    assert found(completion) == [("artifact.unfilled_placeholder", "completion", placeholder)]


def test_placeholder_in_an_earlier_user_turn_names_that_turn():
    turns = [
        Message(role="user", content="Write to {recipient} please."),
        Message(role="assistant", content="Sure, to whom?"),
        Message(role="user", content="To Anna."),
    ]
    verdicts = ArtifactsValidator().check(sample("Dear Anna, ...", turns=turns)).verdicts
    assert [(v.code, v.span.field, v.span.start, v.span.end) for v in verdicts] == [
        ("artifact.unfilled_placeholder", "prompt", 9, 20)
    ]
    assert "prompt turn 1 of 3 (user)" in verdicts[0].message


def test_alpaca_noinput_marker_in_the_prompt_is_a_placeholder():
    assert found("Apple, Google.", prompt="Name two tech companies< noinput >") == [
        ("artifact.unfilled_placeholder", "prompt", "< noinput >")
    ]


@pytest.mark.parametrize(
    "completion",
    [
        '```python\ndef greet(name):\n    return f"Hello {name}"\n```',
        "```c\nfor (i = 0; i < n; i++) { x++; }\n```",
        "Example:\n\n    template = 'Hi {name}'\n    print(template)\n",
        'Use an f-string: print(f"Total: {total}")',
        'message = "Dear {name}".format(name=user)',
        "The JS template literal `${user}` interpolates; so does `{name}` in Python.",
        "fetch(url).then(r => render({data}))",
        '{"name": "Bob", "age": 25}',
        "The fraction is $\\frac{a}{b}$ and $x^{2} + y_{i}$.",
        "In LaTeX write \\textbf{bold} and \\frac{num}{den} outside math too.",
        "The set {1, 2, 3} has three elements; {x | x > 0} is infinite.",
        'Line one<br>line two<div class="a">x</div> <BR> and List<T> in Java.',
        "Models emit <EOS> at the end and map rare words to <UNK>. Press <ENTER>.",
        "As shown in [1] and [2, 3], results hold.[12]",
        "Read the [docs](https://example.org) and arr[i] + m[0][1].",
        "He said [the company] would grow; the quote is verbatim [sic].",
        "[The lights fade to black.]",
    ],
)
def test_code_json_latex_sets_html_and_references_are_not_placeholders(completion: str):
    assert found(completion) == []


def test_placeholders_are_allowed_when_the_prompt_asks_for_a_template():
    completion = "Dear [Customer Name],\n\nYour order {order_id} shipped.\n\n[Your Name]"
    assert found(completion, prompt="Write an email template for shipping notices.") == []
    assert len(found(completion, prompt="Write an email for shipping notices.")) == 3


def test_placeholders_can_be_switched_off():
    assert found("Hi {name}", placeholders=False) == []


# ---- citation markers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "marker",
    ["[cite: 6524]", "[cite: 12, 15]", "[cite_start]", "[cite_end]", "【4:0†source】", "[3†source]",
     "[citation needed]", "[^2^]", "citeturn0search3"],
)  # fmt: skip
def test_leftover_citation_marker_is_flagged(marker: str):
    completion = f"The bridge opened in 1932 {marker} and still stands."
    assert found(completion) == [("artifact.citation_marker", "completion", marker)]


def test_numeric_references_in_cited_prose_are_not_citation_markers():
    assert found("Transformers [1] replaced RNNs [2], [3].\n\n[1] Vaswani et al. 2017.") == []


# ---- special tokens -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "token",
    ["<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>", "<|start_header_id|>",
     "<start_of_turn>", "<end_of_turn>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "</think>"],
)  # fmt: skip
def test_special_token_in_text_is_flagged(token: str):
    completion = f"Paris is the capital. {token} More text."
    assert found(completion) == [("artifact.special_token", "completion", token)]


def test_bos_and_eos_tokens_are_flagged_only_at_odd_places():
    assert found("<s>[INST] hi [/INST] Hello</s>") == [
        ("artifact.special_token", "completion", "<s>"),
        ("artifact.special_token", "completion", "[INST]"),
        ("artifact.special_token", "completion", "[/INST]"),
        ("artifact.special_token", "completion", "</s>"),
    ]
    assert found("The price was <s>$20</s> now $15 only.") == []


def test_special_tokens_in_the_prompt_get_prompt_spans():
    assert found("Hi.", prompt="Hello<|im_end|>") == [("artifact.special_token", "prompt", "<|im_end|>")]


def test_chat_template_tokens_quoted_as_code_and_closed_think_blocks_are_not_flagged():
    assert found("ChatML ends a turn with `<|im_end|>`:\n```\n<|im_start|>user\nhi<|im_end|>\n```") == []
    assert found("<think>plan</think>The answer is 4.") == []


# ---- boilerplate --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("completion", "phrase"),
    [
        ("As an AI language model, I cannot have opinions.", "As an AI language model"),
        ("I'm sorry, but as a large language model I do not know.", "as a large language model"),
        ("I am an AI language model and do not browse.", "I am an AI language model"),
        ("As an AI, I don't have personal preferences.", "As an AI"),
        ("Sorry, I cannot browse the internet for that.", "I cannot browse the internet"),
        ("I don't have real-time access to prices.", "I don't have real-time access"),
        ("Events after my knowledge cutoff are unknown to me.", "my knowledge cutoff"),
    ],
)
def test_assistant_boilerplate_is_a_warning_at_its_span(completion: str, phrase: str):
    verdicts = ArtifactsValidator().check(sample(completion)).verdicts
    assert [(v.code, v.severity, completion[v.span.start : v.span.end]) for v in verdicts] == [
        ("artifact.boilerplate", "warn", phrase)
    ]


@pytest.mark.parametrize(
    "completion",
    [
        'The paper "Language Models are Few-Shot Learners" introduced GPT-3.',
        "As a large language model, GPT-3 was trained on 300B tokens.",
        "As an AI assistant, I would first ask the customer which items they need.",
        "Building an AI system for real-time fraud detection needs labelled data.",
    ],
)
def test_third_party_mentions_and_role_play_are_not_boilerplate(completion: str):
    assert found(completion) == []


def test_boilerplate_severity_is_configurable():
    verdicts = (
        ArtifactsValidator(ArtifactsConfig(boilerplate_severity="block"))
        .check(sample("As an AI language model, I cannot."))
        .verdicts
    )
    assert [(v.code, v.severity) for v in verdicts] == [("artifact.boilerplate", "block")]


# ---- empty completion ---------------------------------------------------------------------------
@pytest.mark.parametrize(("completion", "what"), [("", "empty"), ("  \n\t ", "whitespace only")])
def test_empty_or_whitespace_completion_fails(completion: str, what: str):
    verdicts = ArtifactsValidator().check(sample(completion)).verdicts
    assert [(v.code, v.span.start, v.span.end, v.blocks) for v in verdicts] == [
        ("artifact.empty_completion", 0, len(completion), True)
    ]
    assert verdicts[0].message == f"the completion is {what}"


def test_clean_answer_passes_and_the_sample_is_returned_unchanged():
    s = sample("Photosynthesis turns light, water and CO2 into sugar and oxygen.")
    result = ArtifactsValidator().check(s)
    assert result.verdicts == [] and result.sample is s


def test_chain_builds_the_artifacts_validator_from_chain_config():
    chain = Chain(ChainConfig(order=["artifacts"], artifacts=ArtifactsConfig(check_prompts=False)))
    result = chain.run(sample("Hello {name}", prompt="Greet {user}"))
    assert [(v.code, v.span.field) for v in result.verdicts] == [
        ("artifact.unfilled_placeholder", "completion")
    ]


# ---- real data: LLaMA-Factory's alpaca_en_demo.json (999 records) -------------------------------
@pytest.fixture(scope="module")
def alpaca_verdicts() -> list[tuple[dict, Sample, list]]:
    records = json.loads(ALPACA.read_text(encoding="utf-8"))
    validator = ArtifactsValidator()
    out = []
    for r in records:
        s = Sample(
            prompt=[Message(role="user", content=r["instruction"] + r["input"])], completion=r["output"]
        )
        out.append((r, s, validator.check(s).verdicts))
    return out


def test_real_alpaca_flags_exactly_the_27_assistant_disclaimers(alpaca_verdicts):
    assert len(alpaca_verdicts) == 999
    flagged = {
        i for i, (_, _, vs) in enumerate(alpaca_verdicts) if any(v.code == "artifact.boilerplate" for v in vs)
    }
    # Counted by substring: the exact "As an AI language model" occurs in no output (0); it is
    # written "as an AI language model" (3 outputs) or "I'm/I am an AI language model" (5 more).
    outputs = [r["output"] for r, _, _ in alpaca_verdicts]
    assert sum("As an AI language model" in o for o in outputs) == 0
    language_model = {i for i, o in enumerate(outputs) if "an ai language model" in o.lower()}
    assert len(language_model) == 8 and language_model <= flagged
    # Every hit checked by eye: "As an AI, I don't/am not capable ...", "I'm an AI Assistant, so unable
    # to perceive", "As an AI, I rely on clear communication from humans" (156), "I don't have access
    # to external articles" (185), "As an AI assistant, I am designed to work together with other AI
    # systems" (630), "As an AI assistant, diplomacy forms a crucial part of my interaction with users"
    # (799), "As an AI, I can assist you ... However, I'm unable to create the actual image" (973).
    # Left alone on purpose: 599 ("As an AI assistant, I would assist a visually impaired customer":
    # the role the prompt asked for) and 739 ("I do not have access to your dataset": the input is
    # missing). A broad grep for AI/chatbot/"I cannot"/"personal opinion" finds no other disclaimer.
    assert flagged == {43, 67, 80, 82, 95, 117, 156, 185, 239, 264, 275, 380, 407, 432, 502, 526, 608,
                       630, 665, 691, 711, 736, 794, 799, 817, 942, 973}  # fmt: skip
    spans = {outputs[i][v.span.start : v.span.end] for i in flagged for v in alpaca_verdicts[i][2]}
    assert {"As an AI", "I'm an AI Assistant", "I don't have access to external"} <= spans


def test_real_alpaca_other_findings_are_the_unfilled_letter_placeholders(alpaca_verdicts):
    other = [
        (i, v) for i, (_, _, vs) in enumerate(alpaca_verdicts) for v in vs if v.code != "artifact.boilerplate"
    ]
    assert {v.code for _, v in other} == {"artifact.unfilled_placeholder"}
    assert len(other) == 24
    assert sorted({i for i, _ in other}) == [33, 44, 63, 237, 464, 577, 588, 779, 821]
    texts = {
        alpaca_verdicts[i][1].completion[v.span.start : v.span.end]
        for i, v in other
        if v.span.field == "completion"
    }
    assert {"[Your Name]", "[Customer’s Name]", "[date and time]", "[Charity Name]"} <= texts


# ---- language syntax in code-shaped answers is not a template slot -------------------------------
@pytest.mark.parametrize(
    "completion",
    [
        # C# interpolated string on one line of unfenced code
        'bool isPalindrome = IsPalindrome("racecar");\n'
        'Console.WriteLine($"The string is a palindrome? {isPalindrome}");  // Output: ... true',
        # Ruby interpolation
        "def linear_search(arr, x)\n  for i in 0..arr.length\n    return i if arr[i] == x\n  end\n"
        '  return -1\nend\nresult = linear_search([1, 2], 2)\nputs "Found at index #{result}"',
        # JSDoc types, no fence
        "/**\n * Compare two strings\n * @param {string} str1 - the first string\n"
        " * @returns {boolean} true when they are anagrams\n */\nfunction isAnagram(str1, str2) {\n"
        "  return str1.split('').sort().join('') === str2.split('').sort().join('');\n}",
        # LaTeX whose backslashes were lost in export
        "Use this structure:\nbegin{enumerate}\n item Add 5.\nend{enumerate}",
        # a code-shaped answer whose string holds a braced name
        'public void Greet(string name)\n{\n    var msg = string.Format("Hi {name}", name);\n'
        "    Console.WriteLine(msg);\n}",
    ],
)
def test_language_syntax_in_code_shaped_answers_is_not_a_placeholder(completion: str):
    assert found(completion) == []


def test_a_braced_slot_in_a_prose_letter_is_still_a_placeholder():
    letter = "Dear {name},\nThank you for your order of {product}.\nBest regards,\nThe team"
    assert found(letter) == [
        ("artifact.unfilled_placeholder", "completion", "{name}"),
        ("artifact.unfilled_placeholder", "completion", "{product}"),
    ]


def test_a_prompt_asking_to_clean_its_text_keeps_its_braces_but_the_answer_is_still_checked():
    ask = "Use text pre-processing techniques to clean up the following text."
    prompt = f"{ask}\n\nIt's what I {{like}} to <do>, like it?"
    assert found("It's what I like to do, like it?", prompt=prompt) == []
    assert found("It's what I {like} to do.", prompt=prompt) == [
        ("artifact.unfilled_placeholder", "completion", "{like}")
    ]
    assert found("Sure.", prompt="Summarize it: It's what I {like} to do.") == [
        ("artifact.unfilled_placeholder", "prompt", "{like}")
    ]


def test_a_bracketed_word_where_a_letter_is_signed_is_a_placeholder():
    prompt = (
        'The subject is "Monthly Report" and the body should say "Dear Boss, Please find attached the '
        'monthly report for your review. Best, [User]".'
    )
    assert found("The email has been sent.", prompt=prompt) == [
        ("artifact.unfilled_placeholder", "prompt", "[User]")
    ]


@pytest.mark.parametrize(
    "completion",
    [
        "Thanks, [Ref. 3] shows the same result.",
        "Best, the team\n\n[1] Smith, 2020.",
        "The best option, [as noted above], is the second one.",
    ],
)
def test_brackets_near_a_closing_word_that_sign_nothing_are_not_placeholders(completion: str):
    assert found(completion) == []


def test_a_users_own_bracket_slots_kept_by_a_faithful_rewrite_are_not_artifacts():
    # AlpacaEval shapes: the user pastes an email with slots and asks for a more professional tone
    prompt = (
        "Make this more professional.\n\nHi [Employer], I need a day off on [date].\nThanks,\n[Your name]"
    )
    completion = (
        "Dear [Employer],\nI would like to request a day of leave on [date].\nKind regards,\n[Your name]"
    )
    assert found(completion, prompt) == []


def test_a_slot_the_answer_invents_next_to_the_users_own_is_still_flagged():
    prompt = "Write a job ad.\nCompany: [Company name]\nJob: Software Engineer"
    completion = "Join us at [Company Name]! Our office is located in [City]."
    assert found(completion, prompt) == [("artifact.unfilled_placeholder", "completion", "[City]")]


def test_brace_slots_left_by_a_templating_script_are_flagged_even_when_echoed():
    prompt = "Write a short poem about {topic}."
    completion = "A poem about {topic}: roses are red."
    assert sorted(found(completion, prompt)) == [
        ("artifact.unfilled_placeholder", "completion", "{topic}"),
        ("artifact.unfilled_placeholder", "prompt", "{topic}"),
    ]


def test_the_readers_own_value_on_a_code_line_is_not_a_placeholder_but_in_prose_it_is():
    code = "const bot = new Discord.Client();\nbot.login('<YOUR_TOKEN>');"
    assert found(code) == []
    prose = "Thanks for your order, <CUSTOMER_NAME>. It ships tomorrow."
    assert found(prose) == [("artifact.unfilled_placeholder", "completion", "<CUSTOMER_NAME>")]
