"""Prompt echo: a completion repeating its prompt (the last user turn), verbatim or nearly, is
`echo.prompt_repeated` at the span of the repeated region; restating a question inside an answer,
rewrite/translate/correct tasks and code answers are not echoes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgate.schemas.chain_config import ChainConfig, EchoConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.chain import Chain
from synthgate.validators.echo import EchoValidator

DATA = Path(__file__).parents[1] / "data"
LONG = (
    "Explain how a transformer language model uses self-attention to relate every token in the input "
    "sequence to every other token, and why this is better than a recurrent network for long documents."
)


def echoed(prompt: str, completion: str, **config) -> list[tuple[str, str]]:
    s = Sample(prompt=[Message(role="user", content=prompt)], completion=completion)
    return [
        (v.code, completion[v.span.start : v.span.end])
        for v in EchoValidator(EchoConfig(**config)).check(s).verdicts
    ]


def test_a_completion_that_opens_by_repeating_the_prompt_is_an_echo_at_its_span():
    completion = f"{LONG}\n\nSelf-attention scores every pair of tokens at once, so distance costs nothing."
    found = echoed(LONG, completion)
    assert found == [("echo.prompt_repeated", LONG[:-1])]  # the closing "." is not a word


def test_a_near_verbatim_echo_with_a_few_edited_words_is_an_echo():
    edited = LONG.replace("every other token", "all other tokens").replace("long documents", "long texts")
    completion = f"Question: {edited}\nAnswer: attention looks at all positions at once."
    ((code, span),) = echoed(LONG, completion)
    assert (
        code == "echo.prompt_repeated"
        and span.startswith("Explain how a transformer")
        and span.endswith("long")
    )


def test_a_completion_that_is_only_the_short_prompt_again_is_an_echo():
    prompt = "What are the main causes of inflation in developing economies today?"
    assert echoed(prompt, prompt) == [("echo.prompt_repeated", prompt[:-1])]


def test_most_of_a_long_prompt_repeated_is_an_echo():
    most = LONG.split(", and why")[0]  # 24 of 34 words would be 70%; the full first clause and more:
    completion = f"{most}, and why is this better than a recurrent network? It is parallel."
    assert [c for c, _ in echoed(LONG, completion)] == ["echo.prompt_repeated"]


@pytest.mark.parametrize(
    ("prompt", "completion"),
    [
        # a short question quoted back in the answer
        ("What is the capital of France?", "The capital of France is Paris."),
        ("Name the three primary colors used in traditional oil painting today",
         "The three primary colors used in traditional oil painting today are red, yellow and blue."),
        # instruction restated inside an answer sentence (alpaca_en_demo 234, 321, 424, 673)
        ("Create a web page that displays the temperature of the city of Florence.",
         "Here is an example of HTML code that can be used to create a web page that displays the "
         "temperature of the city of Florence:\n\n<html></html>"),
        ("Generate a regular expression that can match strings of any length consisting of only "
         "the letters a,b and c",
         "The regular expression that can match strings of any length consisting of only the "
         "letters a, b, and c is: `^[abc]+$`"),
        # rewrite, translate, correct, paraphrase: the output resembles the input by design
        ("Correct the grammar: she go to the market every day and buy some fresh bread for her family.",
         "She goes to the market every day and buys some fresh bread for her family."),
        ("Paraphrase this sentence: the quick brown fox jumps over the lazy dog near the old river bank.",
         "The quick brown fox jumps over the lazy dog near the old river bank, swiftly."),
        ("Translate to French: the cat is sleeping on the warm windowsill in the afternoon sun.",
         "Le chat dort sur le rebord de fenêtre chaud au soleil de l'après-midi."),
        ("Organize the sentences chronologically.\nHe graduated. He was born in Ohio. He moved to Texas.",
         "He was born in Ohio. He moved to Texas. He graduated."),
        # code answers that repeat most of the code
        ("Why does this fail?\n```python\nfor i in range(10):\n    total += i\nprint(total)\n```",
         "`total` is never set:\n```python\ntotal = 0\nfor i in range(10):\n"
         "    total += i\nprint(total)\n```"),
        ("Add comments to this code: def add(a, b): return a + b; def sub(a, b): return a - b;",
         "def add(a, b): return a + b  # sum\ndef sub(a, b): return a - b  # difference"),
    ],
)  # fmt: skip
def test_restatements_rewrites_and_code_answers_are_not_echoes(prompt: str, completion: str):
    assert echoed(prompt, completion) == []


def test_rewrite_prompts_are_judged_when_the_exemption_is_off():
    prompt = "Rewrite the following sentence so it sounds more formal and polite to a senior manager please."
    assert [c for c, _ in echoed(prompt, prompt, exempt_rewrites=False)] == ["echo.prompt_repeated"]
    assert echoed(prompt, prompt) == []


def test_real_alpaca_has_no_echo():
    records = json.loads((DATA / "alpaca_en_demo.json").read_text(encoding="utf-8"))
    v = EchoValidator()
    flagged = [
        i
        for i, r in enumerate(records)
        if v.check(
            Sample(
                prompt=[Message(role="user", content=f"{r['instruction']}\n{r['input']}".strip())],
                completion=r["output"],
            )
        ).verdicts
    ]
    # Searched by eye with the exemption off: only 760 (put sentences in order: the answer repeats
    # them by design) comes up; with it on, nothing does.
    assert flagged == []


def test_echo_runs_in_the_default_chain():
    assert "echo" in ChainConfig().order
    result = Chain(ChainConfig(order=["echo"])).run(
        Sample(prompt=[Message(role="user", content=LONG)], completion=LONG)
    )
    assert [v.code for v in result.verdicts] == ["echo.prompt_repeated"]


def test_a_persona_the_user_assigns_repeated_as_the_answers_voice_is_not_an_echo():
    prompt = (
        "As a business analyst at Nuro, provide an overview of the autonomous driving landscape, "
        "major players, their progress and outlook."
    )
    completion = (
        "As a business analyst at Nuro, here's an overview of the autonomous driving landscape, major "
        "players, their progress, and outlook:\n\n1. Waymo leads in driverless rides.\n2. Cruise paused."
    )
    assert echoed(prompt, completion) == []


def test_a_question_restated_as_the_answers_thesis_is_not_an_echo():
    prompt = (
        'How does the choice of interpolation function, like the "fade" function in Perlin noise, impact '
        "the visual and mathematical properties of the generated noise, particularly in terms of "
        "continuity and differentiability?"
    )
    completion = (
        'The choice of interpolation function, such as the "fade" function in Perlin noise, significantly '
        "affects the visual and mathematical properties of the generated noise, particularly in terms of "
        "continuity and differentiability.\n\nContinuity measures how smooth a function is."
    )
    assert echoed(prompt, completion) == []


def test_a_question_repeated_from_its_question_word_is_still_an_echo():
    prompt = (
        "How does the choice of interpolation function impact the visual and mathematical properties "
        "of the generated noise, particularly in terms of continuity?"
    )
    completion = f"{prompt}\n\nThe fade curve keeps the first and second derivatives continuous."
    assert echoed(prompt, completion) == [("echo.prompt_repeated", prompt[:-1])]


def test_an_echo_with_typographic_quotes_straightened_is_still_an_echo_at_its_span():
    # Echo compares the words of `normalize.tokens`: curly and straight apostrophes split a word
    # alike, so "model’s" in the prompt and "model's" in the completion are the same words.
    prompt = LONG.replace("a transformer language model uses", "a transformer language model’s layer uses")
    repeated = prompt.replace("’", "'")
    completion = f"{repeated}\n\nSelf-attention scores every pair of tokens at once."
    assert echoed(prompt, completion) == [("echo.prompt_repeated", repeated[:-1])]
