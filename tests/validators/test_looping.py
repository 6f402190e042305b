"""Invented Q/A pairs, repeated sentences/lines/n-grams and trailing loops fail with their first span."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from synthgate.schemas.adapters import to_sample
from synthgate.schemas.chain_config import LoopingConfig
from synthgate.schemas.sample import Message, Sample, SampleMetadata
from synthgate.schemas.verdict import Verdict
from synthgate.validators.base import Result
from synthgate.validators.looping import LoopingValidator

USER_QUESTION = "How does LoRA reduce memory use?"

# From a real failed run: invented Q/A pairs, then a degenerate fragment loop.
SEED_ANSWER = (
    "QLoRA is an optimization method that combines the quantization of weights, low-rank adaptation "
    "(LoRA), and a compression technique called 4-bit quantization. "
)
SEED_PAIRS = (
    "Question: Can QLoRA be applied to models other than large language models? Answer: QLoRA is "
    "primarily designed for large language models, but the approach generalises. Question: What is the "
    "impact of QLoRA on the performance of fine-tuned models compared to full fine-tuning? Answer: QLoRA "
    "generally maintains performance. "
)
SEED_LOOP = "Question: Can QLo. 0 " * 20
SEED = SEED_ANSWER + SEED_PAIRS + SEED_LOOP

PROSE = (
    "Low-rank adaptation freezes the pretrained weights and learns a pair of small matrices per layer, "
    "so the number of trainable parameters drops by orders of magnitude. In practice this means a 7B "
    "model can be fine-tuned on a single consumer GPU. QLoRA goes one step further: it stores the frozen "
    "weights in 4-bit NormalFloat, dequantizes them on the fly during the forward pass, and keeps the "
    "adapters in 16-bit precision. The paper reports that this matches full 16-bit fine-tuning on several "
    "benchmarks.\n\n"
    "There are trade-offs. Dequantization adds compute, so each step is slower than plain LoRA, and paged "
    "optimizers are needed to absorb memory spikes from long sequences. The rank of the adapters matters "
    "less than one might expect; ranks between 8 and 64 usually perform similarly, while applying adapters "
    "to all linear layers matters more than the rank itself.\n\n"
    "If you are starting out, use the defaults from the PEFT library, train for one or two epochs, and "
    "evaluate on a held-out set that resembles your production traffic. Watch the validation loss: if it "
    "rises while the training loss keeps falling, you are overfitting, and you should lower the learning "
    "rate or stop earlier. Finally, merge the adapters into the base weights only after evaluation, "
    "because merging a quantized model can change its outputs slightly and you want to measure the model "
    "you ship.\n\n"
    "A note on data: a few thousand carefully filtered examples usually beat a much larger noisy set. "
    "Remove near-duplicates, check that answers are grounded in the sources they cite, and keep a small "
    "slice of hard cases aside so regressions show up early."
)


def sample(completion: str, finish_reason: str | None = None, user: str = USER_QUESTION) -> Sample:
    return Sample(
        prompt=[Message(role="user", content=user)],
        completion=completion,
        metadata=SampleMetadata(finish_reason=finish_reason),
    )


def check(completion: str, **config) -> Result:
    return LoopingValidator(LoopingConfig(**config)).check(sample(completion))


def codes(result: Result) -> list[str]:
    return [v.code for v in result.verdicts]


def only(result: Result, code: str) -> Verdict:
    found = [v for v in result.verdicts if v.code == code]
    assert len(found) == 1, codes(result)
    return found[0]


def spanned(completion: str, v: Verdict) -> str:
    assert v.span is not None and v.span.field == "completion"
    assert 0 <= v.span.start < v.span.end <= len(completion)
    return completion[v.span.start : v.span.end]


# --- the seed case -----------------------------------------------------------------------------


def test_seed_run_fails_with_invented_pairs_and_the_trailing_fragment_loop_only():
    result = check(SEED)
    assert sorted(codes(result)) == ["loop.extra_qa_pair", "loop.fragment_loop"]
    assert all(v.status == "fail" and v.severity == "block" for v in result.verdicts)


def test_seed_qa_span_runs_from_the_first_invented_question_to_the_end_of_the_pairs():
    v = only(check(SEED), "loop.extra_qa_pair")
    assert v.span.start == len(SEED_ANSWER)
    assert spanned(SEED, v).startswith("Question: Can QLoRA be applied to models other")
    assert v.span.end == len(SEED.rstrip())


def test_seed_fragment_span_covers_exactly_the_repeated_fragment():
    v = only(check(SEED), "loop.fragment_loop")
    assert spanned(SEED, v) == SEED_LOOP.rstrip()
    assert "20 repeats" in v.message


def test_fragment_loop_span_is_the_whole_periodic_tail_even_when_it_starts_mid_unit():
    text = "QLoRA saves memory. Question: How does QLo. 0 " + "Question: Can QLo. 0 " * 20
    v = only(check(text, allow_qa_pairs=True), "loop.fragment_loop")
    assert spanned(text, v) == "QLo. 0 " + ("Question: Can QLo. 0 " * 20).rstrip()


def test_a_loop_explained_by_the_fragment_is_not_reported_again_as_sentences_or_ngrams():
    result = check(PROSE + " " + "The model is fine. " * 12)
    assert codes(result) == ["loop.fragment_loop"]


# --- invented question/answer pairs ------------------------------------------------------------


@pytest.mark.parametrize(
    "pairs, first",
    [
        ("\n\nQ: What about QLoRA?\nA: It quantizes.\n\nQ: And DoRA?\nA: It decomposes.", "Q: What about"),
        (" Q1: What about QLoRA? A1: It quantizes. Q2: And DoRA? A2: It decomposes.", "Q1: What about"),
        ("\n\n### Question 2\nWhat about QLoRA?\n\n### Answer\nIt quantizes.", "### Question 2"),
        (" **Question:** What about QLoRA? **Answer:** It quantizes.", "**Question:**"),
        ("\n\nQuestion 2. What about QLoRA?\nAnswer 2. It quantizes.", "Question 2."),
        ("\n- **Q:** What about QLoRA?\n- **A:** It quantizes.", "**Q:**"),
    ],
)
def test_invented_pairs_after_the_answer_fail_from_the_first_label_to_the_last_pair(pairs, first):
    text = PROSE + pairs
    v = only(check(text), "loop.extra_qa_pair")
    assert spanned(text, v).startswith(first)
    assert v.span.start == text.index(first)
    assert v.span.end == len(text)


def test_invented_pair_glued_to_the_previous_sentence_is_found():
    text = "LoRA freezes the weights.Question: What about QLoRA? Answer: It quantizes them."
    v = only(check(text), "loop.extra_qa_pair")
    assert spanned(text, v) == "Question: What about QLoRA? Answer: It quantizes them."


def test_pairs_span_stops_at_the_end_of_the_paragraph_holding_the_last_label():
    text = "LoRA freezes weights.\n\nQ: Why?\nA: Memory.\n\nThanks for reading, and good luck."
    v = only(check(text), "loop.extra_qa_pair")
    assert spanned(text, v) == "Q: Why?\nA: Memory."


def test_prose_mention_of_the_word_question_is_clean():
    text = "That is a good question. The answer depends on the rank you choose and the layers you adapt."
    assert check(text).verdicts == []


def test_prose_with_question_words_and_colons_inside_sentences_is_clean():
    text = (
        "The key question: does the rank matter? In our runs the answer was no. Frequently asked "
        "questions: see the FAQ. The **quick** answer is that quantization helps, as Q3 results show."
    )
    assert check(text).verdicts == []


def test_completion_starting_with_answer_label_only_is_not_a_loop():
    assert check("Answer: LoRA freezes the weights and trains small adapters.").verdicts == []


def test_invented_question_after_an_answer_label_is_still_caught():
    text = "Answer: LoRA freezes the weights. Question: And QLoRA? Answer: It quantizes them too."
    v = only(check(text), "loop.extra_qa_pair")
    assert spanned(text, v) == "Question: And QLoRA? Answer: It quantizes them too."


def test_question_label_opening_the_completion_restates_the_question_and_is_clean():
    text = (
        f"Question: {USER_QUESTION}\n\nAnswer: LoRA freezes the base weights and trains two small matrices."
    )
    assert check(text).verdicts == []


def test_answer_quoting_the_users_question_once_is_clean():
    text = f"Sure, here it is.\n\nQuestion: {USER_QUESTION}\nAnswer: LoRA freezes the base weights."
    assert check(text).verdicts == []


def test_quoting_some_other_question_is_an_invented_pair():
    text = "Sure, here it is.\n\nQuestion: How does DoRA differ?\nAnswer: It decomposes weights."
    v = only(check(text), "loop.extra_qa_pair")
    assert spanned(text, v).startswith("Question: How does DoRA differ?")


def test_question_answer_template_shown_in_a_code_block_is_clean():
    text = (
        "Format each record like this:\n\n```text\nQuestion: {question}\nAnswer: {answer}\n```\n\n"
        "Then tokenize the records and train as usual."
    )
    assert check(text).verdicts == []


def test_legitimate_faq_passes_when_qa_pairs_are_allowed():
    faq = (
        "Here is the FAQ you asked for.\n\n"
        "Q1: What is LoRA?\nA1: A way to fine-tune with small low-rank matrices.\n\n"
        "Q2: Does it need a big GPU?\nA2: No, a single consumer card is usually enough.\n\n"
        "Q3: Can I merge the adapters?\nA3: Yes, after training you can fold them into the weights."
    )
    assert check(faq, allow_qa_pairs=True).verdicts == []
    assert codes(check(faq)) == ["loop.extra_qa_pair"]


# --- repeated sentences and lines ----------------------------------------------------------------


def test_sentence_repeated_beyond_the_allowed_count_fails_at_the_first_extra_occurrence():
    text = "It freezes the weights. LoRA is small. It freezes the weights! Rank matters. "
    text += "it FREEZES, the weights."
    v = only(check(text), "loop.repeated_sentence")
    assert spanned(text, v) == "it FREEZES, the weights."
    assert "3 times" in v.message


def test_sentence_repeated_within_the_allowed_count_is_clean():
    text = "It freezes the weights. LoRA is small. It freezes the weights. Rank matters less."
    assert check(text).verdicts == []


def test_max_sentence_repeats_of_one_fails_the_second_occurrence():
    text = "It freezes the weights. LoRA is small. It freezes the weights."
    v = only(check(text, max_sentence_repeats=1), "loop.repeated_sentence")
    assert v.span.start == text.rindex("It freezes")


def test_repeated_line_fails_at_its_third_occurrence_and_is_not_also_a_repeated_sentence():
    text = "Steps:\nStir the pot now.\nAdd salt to taste.\nStir the pot now.\nServe hot.\n"
    text += "Stir the pot now.\nDone."
    result = check(text)
    assert codes(result) == ["loop.repeated_line"]
    assert result.verdicts[0].span.start == text.rindex("Stir the pot now.")
    assert spanned(text, result.verdicts[0]) == "Stir the pot now."


def test_paragraph_looping_in_the_middle_is_one_repeated_line_not_five_codes():
    para = "LoRA freezes the weights. It trains two small matrices. Memory drops a lot."
    text = "\n\n".join([para] * 4) + "\n\nIn short, use LoRA when memory is tight."
    result = check(text)
    assert codes(result) == ["loop.repeated_line"]
    v = result.verdicts[0]
    assert v.span.start == text.index(para, len(para) * 2)
    assert spanned(text, v) == para


def test_numbered_steps_with_repeated_short_words_are_clean():
    text = "1. Mix.\n2. Stir.\n3. Stir.\n4. Stir.\n5. Stir.\n6. Serve.\n\nRepeat steps 2 to 5 until smooth."
    assert check(text).verdicts == []


def test_code_block_with_repeated_short_and_trivial_lines_is_clean():
    text = (
        "Here is the helper:\n\n```python\n"
        "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n"
        "    return x\n\n\ndef identity(x):\n    return x\n\n\ndef first(x):\n    return x\n```\n\n"
        "```js\nfunction f() {\n  if (a) {\n    go();\n  }\n}\n}\n}\n```\n\nThat is all."
    )
    assert check(text).verdicts == []


def test_repeated_code_lines_inside_a_fence_are_not_prose_loops():
    text = "Build it:\n```python\n" + "model.add(Dense(64, activation='relu'))\n" * 5 + "```\nThen train."
    assert check(text).verdicts == []


# --- repeated n-grams ---------------------------------------------------------------------------


def test_ngram_repeated_beyond_the_allowed_count_fails_at_its_first_extra_occurrence():
    steps = " ".join(f"Step {i}: we apply the same transformation to the data again." for i in range(2, 7))
    text = "First we load the files. " + steps + " Finally we stop."
    v = only(check(text), "loop.repeated_ngram")
    assert spanned(text, v) == "we apply the same transformation to the data"
    assert v.span.start == text.index("Step 5: ") + len("Step 5: ")


def test_ngram_repeated_within_the_allowed_count_is_clean():
    steps = " ".join(f"Step {i}: we apply the same transformation to the data again." for i in range(2, 5))
    assert check("First we load the files. " + steps + " Finally we stop.").verdicts == []


def test_smaller_ngram_config_catches_shorter_phrases():
    text = "The low rank update helps. Rank matters. The low rank update wins. So the low rank update stays."
    v = only(check(text, ngram_words=4, max_ngram_repeats=2), "loop.repeated_ngram")
    assert spanned(text, v) == "the low rank update"
    assert v.span.start == text.rindex("the low rank update")


# --- trailing fragment loops --------------------------------------------------------------------


def test_word_loop_at_the_end_is_a_fragment_loop():
    text = "That was funny. " + "ha " * 10
    v = only(check(text), "loop.fragment_loop")
    assert spanned(text, v) == ("ha " * 10).strip()


def test_a_few_repeated_words_at_the_end_are_clean():
    assert check("That was funny, ha ha ha.").verdicts == []
    assert check("Use it when the data is small, small, small.").verdicts == []


def test_multiword_unit_repeated_at_the_end_needs_the_configured_repeats():
    text = "LoRA saves memory. and so on and so on and so on"
    assert check(text).verdicts == []
    v = only(check(text + " and so on"), "loop.fragment_loop")
    assert spanned(text + " and so on", v) == "and so on and so on and so on and so on"


def test_trailing_loop_cut_mid_unit_is_still_a_fragment_loop():
    text = "Answer done. " + "the model the model " * 3 + "the"
    v = only(check(text), "loop.fragment_loop")
    assert spanned(text, v) == ("the model the model " * 3 + "the")


def test_character_loop_at_the_end_is_a_fragment_loop():
    text = "That is great!!!!!!!!!!!!"
    v = only(check(text), "loop.fragment_loop")
    assert spanned(text, v) == "!!!!!!!!!!!!"
    glued = "It works, hahahahahahahahahaha"
    assert spanned(glued, only(check(glued), "loop.fragment_loop")) == "hahahahahahahahahaha"


def test_emphasis_and_long_numbers_at_the_end_are_clean():
    assert check("That is great!!!").verdicts == []
    assert check("The population was 1000000000").verdicts == []
    assert check("Wait for it...").verdicts == []


# --- finish reason ------------------------------------------------------------------------------


def test_finish_reason_length_fails_without_a_span():
    result = LoopingValidator().check(sample(PROSE, finish_reason="length"))
    assert codes(result) == ["loop.finish_reason_length"]
    assert result.verdicts[0].span is None


def test_finish_reason_stop_is_clean():
    assert LoopingValidator().check(sample(PROSE, finish_reason="stop")).verdicts == []


# --- clean text and the fast path ---------------------------------------------------------------


def test_normal_multi_paragraph_prose_is_clean_and_unchanged():
    s = sample(PROSE)
    result = LoopingValidator().check(s)
    assert result.verdicts == []
    assert result.sample is s


def test_empty_completion_is_left_to_other_validators():
    assert check("   ").verdicts == []


def test_clean_prose_never_reaches_the_exact_checks(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("slow path reached")

    for name in ("_extra_qa", "_sentences", "_lines", "_ngram"):
        monkeypatch.setattr(LoopingValidator, name, boom)
    assert LoopingValidator().check(sample(PROSE)).verdicts == []


def test_one_verdict_per_code_even_with_many_loops():
    text = "\n".join(["It freezes the weights."] * 5 + ["Rank is low here."] * 5) + "\nThe end is here now."
    result = check(text)
    assert len(codes(result)) == len(set(codes(result)))
    assert spanned(text, only(result, "loop.repeated_line")) == "It freezes the weights."


VOCAB = "lora rank adapter weights memory the a of model data train small frozen matrix layer".split()


def random_text(rng: random.Random) -> str:
    """Prose-like text with planted repeats whose punctuation, spacing and case vary between copies."""
    sentences: list[list[str]] = []
    for _ in range(rng.randint(3, 25)):
        if sentences and rng.random() < 0.3:
            sentences.append(rng.choice(sentences))  # a repeated sentence or line
        else:
            sentences.append([rng.choice(VOCAB) for _ in range(rng.randint(1, 9))])
    out = []
    for words in sentences:
        for w in words:
            out.append(w.upper() if rng.random() < 0.05 else w)
            out.append(rng.choice([" ", " ", " ", ", ", "  ", " - ", "'"]))
        out[-1] = rng.choice([". ", "! ", "? ", "\n", ".\n\n", ": "])
    return "".join(out)


def test_prefilters_never_hide_a_finding_the_exact_checks_would_make(monkeypatch):
    rng = random.Random(7)
    texts = [random_text(rng) for _ in range(300)]
    fast = [check(t, allow_qa_pairs=True).verdicts for t in texts]
    monkeypatch.setattr(LoopingValidator, "_repeats_possible", lambda self, low: True)
    monkeypatch.setattr(LoopingValidator, "_ngram_possible", lambda self, tokens: True)
    exact = [check(t, allow_qa_pairs=True).verdicts for t in texts]
    assert fast == exact
    found = {v.code for verdicts in exact for v in verdicts}
    assert {"loop.repeated_sentence", "loop.repeated_line", "loop.repeated_ngram"} <= found


# --- legitimate repetition: code, math, tables, lists (false-positive traps) --------------------

C_GUARDS = (
    "The three guards check different conditions:\n\n"
    "if (count == limit && retries > 0) return finish(ctx, status, RETRY_LATER)\n"
    "if (count > limit && retries > 0) return finish(ctx, status, RETRY_LATER)\n"
    "if (count < limit && retries > 0) return finish(ctx, status, RETRY_LATER)\n\n"
    "Only the first one retries."
)
LEAD_IN_LIST = (
    "Here are some ways to speed up pandas code:\n\n"
    "- Use the vectorized string methods instead of apply to clean text columns.\n"
    "- Use the vectorized string methods instead of apply to split full names.\n"
    "- Use the vectorized string methods instead of apply to parse phone numbers.\n"
    "- Use the vectorized string methods instead of apply to normalise email addresses.\n"
    "- Use categorical dtypes for columns with few distinct values."
)
NUMBERED_COMMANDS = (
    "To set up the project:\n\n"
    "1. Run the following command in your terminal to install the dependencies: "
    "`pip install -r requirements.txt`\n"
    "2. Run the following command in your terminal to create the database: `python manage.py migrate`\n"
    "3. Run the following command in your terminal to load the sample data: "
    "`python manage.py loaddata demo`\n"
    "4. Run the following command in your terminal to start the server: `python manage.py runserver`\n"
)
CSV_ROWS = (
    "Here is the data as CSV:\n\n"
    "name,department,start_date,salary,manager,location\n"
    "Alice Smith,Engineering,2021-03-01,85000,Bob Jones,Berlin\n"
    "Carol White,Engineering,2021-03-01,85000,Bob Jones,Berlin\n"
    "Dan Brown,Engineering,2021-03-01,85000,Bob Jones,Berlin\n"
    "Eve Black,Engineering,2021-03-01,85000,Bob Jones,Berlin\n"
    "Frank Green,Engineering,2021-03-01,85000,Bob Jones,Berlin"
)
MARKDOWN_TABLE = (
    "| Model | Params | Context | License | Open weights |\n|---|---|---|---|---|\n"
    "| Llama 3 8B | 8B | 8k tokens | Llama 3 Community License | yes |\n"
    "| Llama 3 70B | 70B | 8k tokens | Llama 3 Community License | yes |\n"
    "| Llama 3.1 8B | 8B | 128k tokens | Llama 3 Community License | yes |\n"
    "| Llama 3.1 70B | 70B | 128k tokens | Llama 3 Community License | yes |\n"
    "| Llama 3.1 405B | 405B | 128k tokens | Llama 3 Community License | yes |"
)
OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_REGEX = (
    f"To match an IPv4 address use:\n\n^{OCTET}\\.{OCTET}\\.{OCTET}\\.{OCTET}$\n\nOne group per octet."
)
DAYS_IN_FRENCH = (
    "The days of the week in French are:\n"
    "Monday is lundi in French and it starts the week.\n"
    "Tuesday is mardi in French and it follows Monday.\n"
    "Wednesday is mercredi in French and it is mid-week.\n"
    "Thursday is jeudi in French and it comes next.\n"
    "Friday is vendredi in French and it ends the work week."
)
CONDITIONS_IN_PROSE = (
    "Compare the cases one by one.\n"
    "When x == y the function returns the cached value from the store.\n"
    "When x > y the function returns the cached value from the store.\n"
    "When x < y the function returns the cached value from the store.\n"
    "That is why the cache hit rate is so high."
)


@pytest.mark.parametrize(
    "text",
    [
        C_GUARDS,
        LEAD_IN_LIST,
        NUMBERED_COMMANDS,
        CSV_ROWS,
        MARKDOWN_TABLE,
        IPV4_REGEX,
        CONDITIONS_IN_PROSE,
        DAYS_IN_FRENCH,
    ],
    ids=[
        "c-guards",
        "lead-in-list",
        "numbered-commands",
        "csv",
        "markdown-table",
        "regex",
        "operators",
        "enum",
    ],
)
def test_legitimate_repetition_in_code_math_tables_and_lists_is_not_a_loop(text):
    # Each of these failed before: operators were erased, lead-ins and table cells counted as loops.
    assert check(text).verdicts == []


def test_sql_and_math_lines_that_differ_only_in_operators_are_clean():
    sql = "\n".join(
        f"SELECT name FROM users WHERE age {op} 30 AND country = 'DE' ORDER BY name" for op in "<>="
    )
    math = "(x + 1)^2 = x^2 + 2x + 1\n(x - 1)^2 = x^2 - 2x + 1\n(x + 1)(x - 1) = x^2 - 1"
    assert check(sql).verdicts == []
    assert check(math).verdicts == []


def test_identical_lines_differing_only_in_an_operator_still_loop_when_one_repeats():
    line = "if (count == limit && retries > 0) return finish(ctx, status, RETRY_LATER)"
    text = C_GUARDS + "\n" + line + "\n" + line
    v = only(check(text), "loop.repeated_line")
    assert v.span.start == text.rindex(line)
    assert "3 times" in v.message


def test_numbered_items_repeating_the_same_content_are_still_a_loop():
    text = "Steps:\n" + "\n".join(
        f"{i}. We apply the same transformation to the data again and again." for i in range(1, 7)
    )
    v = only(check(text), "loop.repeated_sentence")
    assert v.span.start == text.index("3. We") + 3
    assert spanned(text, v) == "We apply the same transformation to the data again and again."


def test_list_items_sharing_a_lead_in_but_no_other_content_are_a_loop():
    item = "we apply the same transformation to the data now."
    text = "Tips:\n" + "\n".join(f"- Step {i}: {item}" for i in range(5))
    v = only(check(text), "loop.repeated_ngram")
    assert spanned(text, v) == "we apply the same transformation to the data"
    assert v.span.start == text.index("- Step 3: ") + len("- Step 3: ")


def test_a_repeated_table_row_is_still_a_repeated_line():
    row = "| Llama 3 8B | 8k tokens | Llama 3 Community License |"
    text = "| Model | Context | License |\n|---|---|---|\n" + "\n".join([row] * 3) + "\n\nThose are all."
    v = only(check(text), "loop.repeated_line")
    assert v.span.start == text.rindex(row)
    assert spanned(text, v) == row


def test_lead_in_repeated_inside_one_paragraph_is_still_an_ngram_loop():
    text = (
        "We load the data and then we apply the same transformation to the data\nagain, and we apply the "
        "same transformation to the data again, then we apply the same\ntransformation to the data again "
        "and we apply the same transformation to the data again."
    )
    v = only(check(text), "loop.repeated_ngram")
    assert v.span.start == text.rindex("we apply the same transformation")


ALPACA = json.loads((Path(__file__).resolve().parents[1] / "data" / "alpaca_en_demo.json").read_text())


def test_real_alpaca_answers_listing_comparison_operators_and_a_screenplay_are_clean():
    # Record 68 lists `<`, `>`, `<=`, `>=`, each "checks if the value of the left operand is ...";
    # record 843 is a screenplay repeating the direction "(voice from phone)". Both were loops.
    for index in (68, 843):
        assert LoopingValidator().check(to_sample(ALPACA[index], "alpaca")).verdicts == [], index


def test_all_999_real_alpaca_answers_are_free_of_loop_findings():
    validator = LoopingValidator()
    found = {i: codes(validator.check(to_sample(r, "alpaca"))) for i, r in enumerate(ALPACA)}
    assert {i: c for i, c in found.items() if c} == {}


def test_a_bracketed_direction_repeated_in_a_loop_is_still_caught_at_the_end():
    text = "JENNY\n(to phone)\nHello?" + "\n(voice from phone)" * 10
    v = only(check(text), "loop.fragment_loop")
    assert spanned(text, v) == ("(voice from phone)\n" * 10).strip()


# --- benchmark-tuned traps: derivations, unfenced code, per-item fields, asked-for Q/A ---------

DERIVATION = (
    "Let x be the number of adult tickets and y the number of child tickets.\n\n"
    "x + y = 24\n\n10x + 6y = 200\n\nFrom the first equation:\n\nx + y = 24\n\ny = 24 - x\n\n"
    "Substitute into the second equation:\n\n10x + 6(24 - x) = 200\n\n4x = 56\n\nx = 14\n\n"
    "Check with the first equation:\n\nx + y = 24\n\n14 + 10 = 24\n\nSo 14 adult and 10 child tickets."
)
UNFENCED_TURTLE = (
    "import turtle\n\ndef draw_square(size):\n    turtle.forward(size)\n    turtle.right(90)\n"
    "    turtle.forward(size)\n    turtle.right(90)\n    turtle.forward(size)\n    turtle.right(90)\n"
    "    turtle.forward(size)\n    turtle.right(90)\n\ndraw_square(100)\nturtle.done()"
)
UNFENCED_MERGE = (
    "def merge(left, right):\n    result = []\n    i = j = 0\n    while i < len(left) and j < len(right):\n"
    "        if left[i] <= right[j]:\n            result.append(left[i])\n            i += 1\n"
    "        else:\n            result.append(right[j])\n            j += 1\n"
    "    while i < len(left):\n        result.append(left[i])\n        i += 1\n"
    "    while j < len(right):\n        result.append(right[j])\n        j += 1\n    return result"
)
ITINERARY = "Here is a plan for your trip.\n\n" + "\n\n".join(
    f"Day {i}:\n{place}\n\nActivities: {what}\nTransportation: {how}\n"
    "Accommodation: Luxury Hotel (Price range: $$$)"
    for i, (place, what, how) in enumerate(
        [
            ("Johannesburg", "Visit the Apartheid Museum and Gold Reef City.", "Rent a car."),
            ("Cape Town", "Take the cable car up Table Mountain.", "Fly from Johannesburg"),
            ("Cape Town", "Walk through the Bo-Kaap and drive to Cape Point.", "Rent a car or take a tour"),
            ("Stellenbosch", "Tour two wine estates and the old town.", "Drive or train"),
        ],
        start=1,
    )
)
PARTS_LISTS = (
    "1. Simple LED circuit:\nComponents:\n- Breadboard\n- 220-ohm resistor\n"
    "- 9V battery with battery clip\n\n"
    "2. Buzzer alarm:\nComponents:\n- Active buzzer\n- Push button\n- 9V battery with battery clip\n\n"
    "3. Motorized car:\nComponents:\n- 2 DC motors\n- Cardboard base\n- 9V battery with battery clip\n"
)
JOKES = "\n\n".join(
    f"Q: Why did the {who} cross the road?\nA: {why}"
    for who, why in [
        ("chicken", "To get to the other side!"),
        ("cow", "To get to the udder side!"),
        ("strawberry", "Because it was in a jam!"),
    ]
)


@pytest.mark.parametrize(
    "text",
    [DERIVATION, UNFENCED_TURTLE, UNFENCED_MERGE, ITINERARY, PARTS_LISTS, "arr = [" + "0, " * 23 + "0]"],
    ids=["derivation", "turtle", "merge-sort", "itinerary-fields", "parts-lists", "zeros-literal"],
)
def test_restated_equations_unfenced_code_and_per_item_fields_are_not_loops(text):
    assert check(text).verdicts == []


def test_a_field_line_repeated_back_to_back_is_still_a_repeated_line():
    line = "Accommodation: Luxury Hotel (Price range: $$$)"
    text = "Day 1:\nJohannesburg\n" + "\n".join([line] * 3) + "\nDay 2:\nCape Town"
    v = only(check(text), "loop.repeated_line")
    assert v.span.start == text.rindex(line)


def test_a_block_of_fields_pasted_again_and_again_is_still_a_repeated_line():
    block = "Transportation: Rent a car\nAccommodation: Luxury Hotel (Price range: $$$)"
    text = "Your plan:\n\n" + "\n\n".join([block] * 3) + "\n\nEnjoy the trip!"
    v = only(check(text), "loop.repeated_line")
    assert spanned(text, v) == "Transportation: Rent a car"
    assert v.span.start == text.rindex("Transportation")


def test_equations_restated_while_solving_are_not_an_ngram_loop():
    line = "Cary's age now + 7 = Dan's age now + 9 + 7"
    steps = ["Set up the equations:", "Substitute the first one:", "Simplify:", "Check it:", "Again:"]
    text = "".join(f"{step}\n\n{line}\n\n" for step in steps) + "So 16 = 16."
    assert codes(check(text)) == []


def test_qa_jokes_the_user_asked_for_are_not_invented_pairs():
    s = sample("Sure!\n\n" + JOKES, user="Tell me three jokes about animals.")
    assert LoopingValidator().check(s).verdicts == []
    unasked = LoopingValidator().check(sample("Sure!\n\n" + JOKES, user="What is a pun?"))
    assert codes(unasked) == ["loop.extra_qa_pair"]


def test_a_variable_named_q_is_not_a_question_label():
    text = (
        "Let's use variables:\n\n- q: the number of quarters\n- d: the number of dimes\n\n"
        "Then q = 2d + 7 and 0.25q + 0.10d = 10.15, so d = 14 and q = 35."
    )
    assert check(text).verdicts == []
    assert check("The answer is 35.\nq: How many dimes are there?\na: 14.").verdicts != []


def test_a_run_of_zeros_then_an_invented_greeting_is_a_fragment_loop():
    run = "0" * 600
    text = f'Use this key:\n\nkey := "{run}\n Hello! How can I assist you today?'
    v = only(check(text), "loop.fragment_loop")
    assert spanned(text, v) == run
    assert "600 repeats of '0'" in v.message
    assert check('key := "' + "0" * 64 + '"').verdicts == []


ATTEMPTS = [
    "Let the boys be 3x and the girls 2x. When 6 girls join, 3x : (2x + 6) = 6 : 5, so 15x = 12x + 36 "
    "and x = 12. That gives 36 boys, but then the first ratio check fails because 36 : 24 is not what the "
    "problem says after the change, so this setup is wrong.",
    "Now take the girls as 2k - 6 before the change and the boys as 3k. Cross-multiplying 5(3k) = 6(2k) "
    "gives 15k = 12k, which forces k = 0: no school has zero pupils, so the assumption about who joined "
    "must be reversed and we try yet another form.",
    "Finally suppose the boys are 3m - 6 and the girls 2m. Then 5(3m - 6) = 6(2m + 6) leads to "
    "15m - 30 = 12m + 36, hence 3m = 66 and m = 22, so there are 60 boys and 44 girls after all "
    "the changes are applied.",
]


def test_a_sentence_restated_before_each_different_attempt_is_not_a_loop():
    lead = "According to the problem, the ratio of boys to girls is 3:2."
    text = "\n\n".join(f"{lead} {attempt}" for attempt in ATTEMPTS)
    assert check(text).verdicts == []


def test_a_sentence_repeated_with_the_same_long_stretch_between_is_still_a_loop():
    lead = "According to the problem, the ratio of boys to girls is 3:2."
    text = "\n\n".join(f"{lead} {ATTEMPTS[0]}" for _ in range(3)) + "\n\nThat is all."
    v = only(check(text), "loop.repeated_line")
    assert v.span.start == text.rindex(lead)


def test_pairs_invented_after_answering_the_users_questions_are_still_caught():
    text = "LoRA trains two small matrices per layer.\n\nQ: What is QLoRA?\nA: LoRA on a 4-bit model."
    s = sample(text, user="Answer these questions about adapters: what does LoRA train?")
    assert codes(LoopingValidator().check(s)) == ["loop.extra_qa_pair"]
    asked = sample(text, user="Write two quiz questions about adapters with answers.")
    assert LoopingValidator().check(asked).verdicts == []


def _song(chorus_times: int) -> str:
    verses = [
        "Dreaming of a brighter day, I had a dream\nThat one day we would stand in harmony",
        "A land of true equality, where hate is never seen\nLet's break down the walls and start anew",
        "A hope for a better tomorrow, bright and clean\nWhere everyone is welcome, me and you",
    ]
    chorus = (
        "Chorus:\nI had a dream, I had a dream\nThat we can rise above and break these chains\n"
        "Cause I had a dream"
    )
    parts = []
    for i in range(chorus_times):
        parts += [f"Verse {i + 1}:\n{verses[i % 3]}", chorus]
    return "\n\n".join(parts)


def test_a_songs_chorus_sung_again_is_its_form_not_a_loop():
    # AlpacaEval shape: "turn the speech into a rap song" answered with verses and a labelled chorus
    s = Sample(prompt=[Message(role="user", content="Turn the speech into a rap song.")], completion=_song(3))
    assert codes(LoopingValidator().check(s)) == []
    assert codes(check(_song(3))) == []  # the "Chorus:" label alone marks the form


def test_a_song_stuck_on_one_line_is_still_a_loop():
    stuck = "Chorus:\n" + "\n".join(["Another one bites the dust"] * 12) + "\nThe end of the song"
    s = Sample(prompt=[Message(role="user", content="Write a song about code.")], completion=stuck)
    assert "loop.repeated_line" in codes(LoopingValidator().check(s))


def test_table_rows_without_edge_pipes_are_not_sentences_or_loops():
    rows = [("1:00 PM", "Bengals", "34-3"), ("8:20 PM", "Steelers", "35-7"), ("1:00 PM", "Titans", "37-7"),
            ("1:00 PM", "Texans", "29-14"), ("4:15 PM", "Browns", "24-10")]  # fmt: skip
    text = "Season | Local Time | Game | Score\n" + "\n".join(
        f"2011 | {t} | Ravens vs. {team} | {score}" for t, team, score in rows
    )
    assert codes(check(text)) == []


def test_a_sentence_closing_different_list_items_is_a_per_item_refrain():
    items = [
        "Chair squats: stand up and sit down without your hands.",
        "Desk push-ups: hands on the desk, lower.",
        "Calf raises: rise onto your toes and lower slowly.",
        "Leg lifts: raise one leg and hold it.",
        "Shoulder rolls: roll both shoulders backwards.",
    ]
    text = "Try this routine:\n" + "\n".join(
        f"{i}. {item} Repeat for 5-10 reps." for i, item in enumerate(items, 1)
    )
    assert codes(check(text)) == []


def test_an_answer_using_the_prompts_own_question_numbers_invents_no_pair():
    user = "Are these duplicates?\nQuestion1: Why use threads?\nQuestion2: When do processes beat threads?"
    text = (
        "They overlap but are not duplicates.\n\nQuestion 1:\nThreads share memory, so they are cheap.\n\n"
        "Question 2:\nProcesses avoid the GIL, so CPU-bound work scales."
    )
    assert codes(LoopingValidator().check(sample(text, user=user))) == []
    assert "loop.extra_qa_pair" in codes(check(text))  # with an unlabelled prompt, the labels are invented


def test_an_interview_or_questionnaire_the_user_asked_for_holds_its_own_q_labels():
    text = "Here it is.\n\nQ: Why so few women directors?\nA: Funding.\n\nQ: What would help?\nA: Mentoring."
    for user in (
        "Write an interview with a film director; include many questions and answers.",
        "Design a skill assessment questioner for R.",
    ):
        assert codes(LoopingValidator().check(sample(text, user=user))) == []
    assert "loop.extra_qa_pair" in codes(check(text))


def test_an_empty_template_table_row_is_not_a_fragment_loop():
    head = "Name | Cost | Method | Renewal | Cancellation\n-----|------|------|------|------\n"
    text = head + "  |  |  |  |  |  |  |  |"
    assert codes(check(text)) == []
