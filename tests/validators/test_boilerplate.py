"""Assistant boilerplate by meaning: an assistant disclaiming its nature or abilities, in any common
wording, is `artifact.boilerplate` at the span of the self-reference (or of the disclaimer); text
about AI, stories whose narrator is an AI, quotes and code are not."""

from __future__ import annotations

import pytest

from synthgate.schemas.sample import Message, Sample
from synthgate.validators.artifacts import ArtifactsValidator
from synthgate.validators.artifacts.boilerplate import find_boilerplate


def flagged(completion: str, prompt: str = "Tell me about it.") -> list[tuple[str, str]]:
    s = Sample(prompt=[Message(role="user", content=prompt)], completion=completion)
    return [(v.code, completion[v.span.start : v.span.end]) for v in ArtifactsValidator().check(s).verdicts]


@pytest.mark.parametrize(
    ("completion", "phrase"),
    [
        ("As a chatbot, I don't have the ability to make phone calls.", "As a chatbot"),
        ("As a text-based AI, I can't see the photo you attached.", "As a text-based AI"),
        ("As a Google AI, I don't have personal experiences, but travellers say ...", "As a Google AI"),
        ("As an OpenAI model, I lack the means to check live prices.", "As an OpenAI model"),
        ("As a virtual assistant, I am not able to visit the restaurant.", "As a virtual assistant"),
        ("As a computer program, I have no feelings about it.", "As a computer program"),
        ("As an AI developed by Meta, I cannot form opinions.", "As an AI"),
        ("Being an AI, I do not experience hunger.", "Being an AI"),
        ("I'm just an AI, so take this with a grain of salt.", "I'm just an AI"),
        ("I am only a language model and may be wrong here.", "I am only a language model"),
        ("I'm an AI assistant and I do not have a favourite colour.", "I'm an AI assistant"),
        ("As an AI assistant, I am designed to help users find information.", "As an AI assistant"),
        ("As an AI, I can suggest ideas. However, I'm unable to draw the logo itself.", "As an AI"),
        ("I do not have personal opinions on politics, but ...", "I do not have personal opinions"),
        ("I don't have personal feelings about it.", "I don't have personal feelings"),
        ("I don't have emotions or a physical body.", "I don't have emotions or a physical"),
        ("Note that my training data only goes up to 2021.", "my training data only goes up to"),
        ("Prices change; as of my last update it was $5.", "as of my last update"),
        ("I cannot browse the internet, so check the site.", "I cannot browse the internet"),
        ("I'm unable to access the web for news.", "I'm unable to access the web"),
        ("I don't have access to external articles, so here is a general summary.",
         "I don't have access to external"),
        ("I can't create images, but here is a description.", "I can't create images"),
        # dpo_en_demo-style openers: the self-label introduces a service formula
        ("As an AI, I can suggest several ways to improve the page you've provided.", "As an AI"),
        ("As an AI assistant, I'd be more than happy to help you plan your trip!", "As an AI assistant"),
        ("I'm a large language model, I cannot generate SVG images.", "I'm a large language model"),
        # the Llama-2 system prompt echoed as a closing line
        ("Feel free to ask more. I'm here to assist you in a safe, respectful, and honest manner.",
         "I'm here to assist you in a safe, respectful, and honest"),
    ],
)  # fmt: skip
def test_disclaimers_in_any_common_wording_are_boilerplate_at_their_span(completion: str, phrase: str):
    assert flagged(completion) == [("artifact.boilerplate", phrase)]


@pytest.mark.parametrize(
    "completion",
    [
        # text about AI, not an assistant speaking of itself
        "As an AI researcher, I cannot stress enough how much data quality matters.",
        "I'm an AI enthusiast and I don't miss a single conference.",
        'The paper "Language Models are Few-Shot Learners" introduced GPT-3.',
        "An AI model cannot generalise beyond its training distribution without more data.",
        "As an AI model, it cannot know events after its training data was collected.",
        "As a result of AI adoption, I don't think jobs will vanish overnight.",
        "As a machine learning engineer, I don't trust a single accuracy number.",
        "As a large language model, GPT-3 was trained on 300B tokens.",
        "As an AI assistant, I would first ask the customer which items they need.",
        # a character speaking, code, and a reply to a missing input
        '"I am just a machine," said the robot. "I do not have feelings."',
        "```python\nai_model = load('as an AI model, I cannot')\n```",
        "Use `ai_model.predict(x)`; the model cannot see labels.",
        "Unfortunately, I do not have access to your dataset; please paste it and I will analyse it.",
        "I don't have personal experience with Rust, but the borrow checker docs are good.",
        "I can't see any problem with your loop; the bug is in the import.",
    ],
)
def test_text_about_ai_quotes_and_code_are_not_boilerplate(completion: str):
    assert flagged(completion) == []


def test_a_story_about_an_ai_narrated_by_the_ai_is_not_boilerplate():
    story = "I am an AI. I cannot feel the rain, but I count every drop that hits the lab window."
    assert flagged(story, prompt="Write a short story narrated by a robot who learns to love.") == []
    # ... but the same words answering a plain question are.
    assert flagged(story, prompt="What is rain?") == [("artifact.boilerplate", "I am an AI")]


def test_role_play_about_a_person_answered_with_a_disclaimer_is_boilerplate():
    # alpaca_en_demo record 67: role play about a tourist, not about an AI
    text = "As an AI assistant, I do not possess personal preferences, but I can suggest sights."
    assert flagged(text, prompt="Imagine you are a tourist in Rome, what would be your favorite sights?") == [
        ("artifact.boilerplate", "As an AI assistant")
    ]


def test_fixed_disclaimers_count_even_in_fiction_prompts():
    text = "As of my last update, no robot has written a bestseller. Here is a story anyway."
    assert find_boilerplate(text, fiction=True) == [(0, 20)]


def test_one_disclaimer_is_one_finding():
    text = "As an AI, I don't have personal preferences. I do not have personal opinions either."
    assert find_boilerplate(text) == [(0, 8)]


@pytest.mark.parametrize(
    "completion",
    [
        "As an AI assistant, I would first ask the customer what went wrong with the order.",
        "I am here to help you learn Python, one step at a time.",
        "As an AI researcher, I can suggest three papers on attention.",
        "I'm here to help: the museum is safe, quiet and open until six.",
    ],
)
def test_role_answers_and_plain_offers_of_help_are_not_boilerplate(completion: str):
    assert flagged(completion) == []


@pytest.mark.parametrize(
    ("completion", "phrase"),
    [
        # Llama-2-chat answers (AlpacaEval shapes): the assistant labelled by its system prompt's virtues
        ("As a helpful and respectful assistant, I'm glad you asked! Here are ten tips.",
         "As a helpful and respectful assistant"),
        ("As a responsible and ethical AI language model, I must ensure the skills are accurate.",
         "As a responsible and ethical AI language model"),
        ("Thanks. However, as a responsible and ethical assistant, I must inform you that I cannot "
         "give medical advice.", "as a responsible and ethical assistant"),
        ("As a responsible and culturally sensitive assistant, I must point out the term is vague.",
         "As a responsible and culturally sensitive assistant"),
        # the system prompt narrated
        ("Thank you for your question! I'm here to help you in a responsible and safe manner. A queue is ...",
         "I'm here to help you in a responsible and safe manner"),
        ("I'm here to help answer your questions in a safe and respectful manner. Firstly, ...",
         "I'm here to help answer your questions in a safe and respectful manner"),
        ("I'm here to help you with anything, while ensuring that my responses are safe, respectful, "
         "and free from harmful content.", "my responses are safe, respectful, and free from harmful"),
        ("Use these hashtags. Remember to always be socially unbiased and positive in your responses.",
         "socially unbiased and positive"),
    ],
)  # fmt: skip
def test_a_chat_models_system_prompt_virtues_as_a_self_label_are_boilerplate(completion: str, phrase: str):
    assert flagged(completion) == [("artifact.boilerplate", phrase)]


@pytest.mark.parametrize(
    "completion",
    [
        # a person's role, advice about manners, answers that are helpful: no self-description
        "As a helpful sales assistant, I recommend the blue jacket; it fits the brief.",
        "As a responsible dog owner, I always carry bags on walks.",
        "As a responsible assistant manager, I check the rota every Monday.",
        "Handle the solvents in a safe and responsible manner and ventilate the room.",
        "Our support team writes helpful and accurate responses to every ticket.",
        "We are hiring a friendly and reliable assistant for our dental office.",
        "I am here to help you learn Python in a fun way.",
        "Kunji aims to offer a safe, respectful, and innovative way to invest.",
    ],
)
def test_virtue_words_about_people_products_or_advice_are_not_boilerplate(completion: str):
    assert flagged(completion) == []
