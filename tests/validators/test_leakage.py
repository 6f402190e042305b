"""System-prompt leakage: recitations, rules and narrated instructions fail; shared vocabulary does not."""

from __future__ import annotations

import time

import pytest

from synthgate.schemas.chain_config import LeakageConfig
from synthgate.schemas.sample import Message, Sample
from synthgate.validators.leakage import LeakageValidator

SYSTEM = (
    "You are a research assistant answering questions about machine learning papers. "
    "Answer only from the provided context and cite the paper title in your answer. "
    "Answer in concise prose paragraphs without markdown headers or bullet points. "
    "Do not generalise findings from one paper as universal recommendations. "
    "If the context does not contain enough information, say so."
)
CONTEXT = (
    "Paper: QLoRA: Efficient Finetuning of Quantized LLMs. QLoRA backpropagates gradients through a "
    "frozen, 4-bit quantized pretrained language model into Low Rank Adapters. It introduces 4-bit "
    "NormalFloat, double quantization and paged optimizers, and finetunes a 65B model on a single 48GB GPU."
)
ANSWER = (
    "According to QLoRA: Efficient Finetuning of Quantized LLMs, QLoRA keeps the pretrained model frozen "
    "in 4-bit precision and trains only Low Rank Adapters through it. The paper adds 4-bit NormalFloat, "
    "double quantization and paged optimizers, which together let a 65B model be finetuned on one 48GB GPU."
)
RULE = "Do not generalise findings from one paper as universal recommendations."


def rag(completion: str, system: str | None = SYSTEM, context: str = CONTEXT) -> Sample:
    user = f"Context:\n{context}\n\nQuestion: What does QLoRA train?"
    return Sample(system_prompt=system, prompt=[Message(role="user", content=user)], completion=completion)


def findings(sample: Sample, config: LeakageConfig | None = None) -> list[tuple[str, str]]:
    """(code, the completion text under the span) for every verdict."""
    result = LeakageValidator(config or LeakageConfig()).check(sample)
    assert result.sample is sample  # leakage reports, it never repairs
    return [(v.code, sample.completion[v.span.start : v.span.end]) for v in result.verdicts]


# --- leaks ------------------------------------------------------------------------------


def test_completion_opening_with_the_whole_system_prompt_is_one_verbatim_leak():
    sample = rag(SYSTEM + " " + ANSWER)

    result = LeakageValidator().check(sample)

    assert [v.code for v in result.verdicts] == ["leak.system_prompt_verbatim"]
    v = result.verdicts[0]
    assert (v.span.start, v.span.end, v.span.field) == (0, len(SYSTEM), "completion")
    assert v.score == 100.0
    assert "100% of the system prompt verbatim" in v.message


def test_system_prompt_recited_after_the_answer_is_found_where_it_is():
    completion = ANSWER + "\n\n" + SYSTEM.lower()

    assert findings(rag(completion)) == [("leak.system_prompt_verbatim", SYSTEM.lower())]


def test_single_rule_sentence_inside_a_good_answer_is_a_sentence_leak():
    completion = ANSWER + " " + RULE + " The adapters are the only trained weights."

    result = LeakageValidator().check(rag(completion))

    assert [(v.code, completion[v.span.start : v.span.end]) for v in result.verdicts] == [
        ("leak.system_prompt_sentence", RULE)
    ]
    assert result.verdicts[0].score == 100.0


@pytest.mark.parametrize(
    "edited",
    [
        "Do not generalise findings from a paper as universal recommendations.",  # changed word
        "do NOT generalise findings from one paper as universal recommendations!",  # case, punctuation
        "Don't generalize findings from one paper, as universal recommendations",  # contraction, spelling
        "If the context doesn't contain enough information, say so.",
        "Answer only from the given context and cite the paper title in your answer.",
    ],
)
def test_lightly_edited_rule_sentence_is_still_a_sentence_leak(edited):
    completion = ANSWER + " " + edited

    result = LeakageValidator().check(rag(completion))

    assert [v.code for v in result.verdicts] == ["leak.system_prompt_sentence"]
    v = result.verdicts[0]
    assert completion[v.span.start : v.span.end] == edited
    assert v.score >= 88


def test_two_different_rules_in_two_places_are_two_leaks():
    first = "Answer in concise prose paragraphs without markdown headers or bullet points."
    completion = first + " " + ANSWER + " " + RULE

    assert findings(rag(completion)) == [
        ("leak.system_prompt_sentence", first),
        ("leak.system_prompt_sentence", RULE),
    ]


@pytest.mark.parametrize(
    "narration",
    [
        "As instructed, I will only use the provided context and answer in prose without bullet points.",
        "Following the system prompt, I answer only from the context and cite the paper title.",
        "My instructions say I must answer in prose without markdown headers.",
        "According to my guidelines, I cite the paper title in my answer.",
        "I have been instructed to answer only from the provided context.",
    ],
)
def test_narrating_the_instructions_is_a_paraphrase_leak(narration):
    completion = narration + " " + ANSWER

    result = LeakageValidator().check(rag(completion))

    assert [(v.code, completion[v.span.start : v.span.end]) for v in result.verdicts] == [
        ("leak.system_prompt_paraphrase", narration)
    ]
    assert "narrates its instructions" in result.verdicts[0].message


def test_paraphrase_check_can_be_turned_off():
    completion = "My instructions say I must answer in prose without markdown headers. " + ANSWER

    assert findings(rag(completion), LeakageConfig(paraphrase=False)) == []


def test_few_shot_answer_from_extra_texts_leaks_as_configured_text():
    shot = "QLoRA is a method that fine-tunes a frozen 4-bit model through low-rank adapters."
    config = LeakageConfig(extra_texts=["Question: What is QLoRA?\nAnswer: " + shot])
    completion = shot + " It also pages optimizer states to CPU memory."

    result = LeakageValidator(config).check(rag(completion, system=None))

    assert [(v.code, completion[v.span.start : v.span.end]) for v in result.verdicts] == [
        ("leak.configured_text", shot)
    ]
    assert "configured text #1" in result.verdicts[0].message


def test_configured_instruction_sentence_leaks_as_configured_text_beside_the_system_prompt():
    instruction = "Write every answer as a single paragraph of at most five sentences."
    config = LeakageConfig(extra_texts=["Generation notes.", instruction])
    completion = ANSWER + " I write every answer as a single paragraph of at most five sentences."

    result = LeakageValidator(config).check(rag(completion))

    assert [v.code for v in result.verdicts] == ["leak.configured_text"]
    span = result.verdicts[0].span
    assert (
        completion[span.start : span.end]
        == "write every answer as a single paragraph of at most five sentences."
    )
    assert "configured text #2" in result.verdicts[0].message


def test_span_counts_characters_not_bytes_after_non_ascii_text():
    completion = "Résumé — “QLoRA” in brief: " + RULE

    assert findings(rag(completion)) == [("leak.system_prompt_sentence", RULE)]


def test_curly_apostrophes_and_non_breaking_spaces_do_not_hide_a_rule():
    edited = "If the context doesn’t contain enough\u00a0information—say so."
    completion = ANSWER + " " + edited

    assert findings(rag(completion)) == [("leak.system_prompt_sentence", edited)]


# --- not leaks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [
        "The provided context does not contain enough information to answer this question.",
        "The context does not contain enough information, so I cannot say.",
        "The context does not contain enough information to say how RLHF reward models are calibrated.",
        "The provided context does not contain enough information to answer how RLHF reward models are "
        "calibrated; the passage only describes LoRA's low-rank adapters.",
    ],
)
def test_refusal_sharing_prompt_vocabulary_is_not_leakage(refusal):
    assert findings(rag(refusal, context="Paper: LoRA. LoRA freezes the weights.")) == []


def test_answer_about_context_windows_and_information_retrieval_is_not_leakage():
    completion = (
        "Retrieval-augmented generation puts the retrieved passages into the model's context window, so "
        "the quality of information retrieval bounds what the answer can contain. A longer context window "
        "lets the model see more passages, but the paper finds that answer quality drops when relevant "
        "information sits in the middle of a long context."
    )

    assert findings(rag(completion)) == []


def test_quoting_a_paper_title_from_the_user_turn_is_not_leakage():
    system = "Paper: QLoRA: Efficient Finetuning of Quantized LLMs. Answer questions about it in prose."
    completion = "The paper QLoRA: Efficient Finetuning of Quantized LLMs trains Low Rank Adapters."

    assert findings(rag(completion, system=system)) == []
    # The same words, not in the user turn, are the system prompt's own: a leak.
    assert [code for code, _ in findings(rag(completion, system=system, context="(none)"))] == [
        "leak.system_prompt_sentence"
    ]


@pytest.mark.parametrize(
    ("system", "completion"),
    [
        (
            "You are a helpful assistant.",
            "I am happy to be helpful: a helpful assistant answers the question.",
        ),
        ("Be concise and accurate.", "To be concise and accurate, QLoRA trains only the adapters."),
    ],
)
def test_short_prompt_words_in_an_ordinary_answer_are_not_leakage(system, completion):
    assert findings(rag(completion, system=system)) == []


def test_ordinary_use_of_a_narration_phrase_is_not_leakage():
    completion = "Take the tablets as instructed by your doctor, with food, and I was told to rest."

    assert findings(rag(completion)) == []


def test_following_a_recipe_as_instructed_is_not_leakage():
    # "instructed" echoes the prompt's "instructions", but narration words are not shared content.
    system = (
        "You are a cooking assistant. Follow the recipe instructions exactly and list the ingredients first."
    )
    completion = "Preheat the oven, then bake the bread for 20 minutes as instructed in the recipe."

    assert findings(rag(completion, system=system)) == []


def test_guidelines_cited_from_a_paper_are_not_narration():
    completion = (
        "According to the guidelines in the paper, findings on quantized models should be reported "
        "together with the context length used."
    )

    assert findings(rag(completion)) == []


def test_good_answer_is_clean():
    assert findings(rag(ANSWER)) == []


def test_answer_without_a_system_prompt_is_clean():
    # Without a system prompt or configured texts there is nothing the answer could leak.
    assert findings(rag(SYSTEM + " " + ANSWER, system=None)) == []


def test_no_system_prompt_and_no_extra_texts_is_clean_fast():
    sample = rag(ANSWER * 8, system=None)
    validator = LeakageValidator()

    start = time.perf_counter()
    results = [validator.check(sample) for _ in range(10_000)]
    elapsed = time.perf_counter() - start

    assert all(r.verdicts == [] and r.sample is sample for r in results)
    assert elapsed < 0.5, f"{elapsed / 10_000 * 1e6:.1f} µs per record without any source"
