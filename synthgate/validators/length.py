"""Length budget: does the sample fit the training max_length once rendered through the chat template?

Tokens are counted on the text the trainer will see: the tokenizer's chat template (the embedded
Gemma 3 gets the shipped turn template; a template-less tokenizer gets the plain layout documented
in `synthgate.models.embedded`). The prompt part is system + turns + generation prompt; the
completion part is the completion plus its end-of-turn/eos skeleton.

- A completion is never truncated: training on a cut answer teaches the model to stop mid-thought.
  If it cannot fit even beside an empty prompt skeleton -> `length.completion_over_budget`.
- An overlong prompt is repaired by cutting the middle of the LAST user turn, where RAG context
  lives: of the user tokens that fit, the first third and the last two thirds are kept (instruction
  head and question tail survive), joined by `truncation_marker` -> `length.prompt_truncated`.
- If even an empty last user turn does not fit (system prompt or earlier turns too long)
  -> `length.prompt_over_budget`.

With `count_reasoning` (the chain sets it in thinking `keep` mode), reasoning kept in its own field
(`sample.reasoning`) is trained on too, so it is counted as the `<think>` block reasoning chat
templates put before the answer: `<think>\n{reasoning}\n</think>\n\n{completion}`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache, lru_cache
from typing import Any

from synthgate.errors import ModelError
from synthgate.models.embedded import DEFAULT_SPECS, PLAIN_CHAT_TEMPLATE, load_tokenizer
from synthgate.schemas.chain_config import LengthConfig
from synthgate.schemas.sample import Sample
from synthgate.schemas.verdict import Span
from synthgate.validators.base import Result, Validator
from synthgate.validators.codes import verdict

Messages = list[dict[str, str]]


@cache
@lru_cache(maxsize=1)
def default_tokenizer() -> Any:
    """The embedded Gemma 3 270M tokenizer with its turn template, loaded once per process.

    Shared: the length check only reads it (the Rust tokenizer's encode is thread-safe); code that
    changes a tokenizer's template (training, eval) loads its own with `load_tokenizer`.
    """
    return load_tokenizer(None)


class LengthValidator(Validator):
    """Fails completions over max_length; middle-truncates overlong last user turns."""

    name = "length"

    def __init__(
        self, config: LengthConfig = LengthConfig(), tokenizer: Any = None, *, count_reasoning: bool = False
    ) -> None:
        self.config = config
        self.count_reasoning = count_reasoning
        if tokenizer is None:
            tokenizer = (
                default_tokenizer() if config.tokenizer in DEFAULT_SPECS else load_tokenizer(config.tokenizer)
            )
        self.tokenizer = tokenizer
        self._pool: ThreadPoolExecutor | None = None  # prefetch's tokenizing thread, made on first use
        self._pool_pid = 0
        self._backend = tokenizer.backend_tokenizer
        template = tokenizer.chat_template or PLAIN_CHAT_TEMPLATE
        if isinstance(template, dict):  # tokenizers with several named templates
            template = template.get("default") or next(iter(template.values()))
        # transformers' own cached compile: same sandbox and filters as apply_chat_template, at half
        # its per-call cost (no per-call validation/copying of the conversation).
        from transformers.utils.chat_template_utils import _compile_jinja_template

        self._template = _compile_jinja_template(template)
        self._special = dict(tokenizer.special_tokens_map)
        # The skeleton: what the template costs around an empty user turn and an empty completion.
        empty = [{"role": "user", "content": ""}]
        self._skeleton_prompt, self._skeleton_completion = self._count_parts([self._split(empty, "")])[0]

    def check(self, sample: Sample) -> Result:
        return self.check_batch([sample])[0]

    def check_batch(self, samples: Sequence[Sample]) -> list[Result]:
        return self._results(samples, self.token_counts(samples))

    def _results(self, samples: Sequence[Sample], counts: list[tuple[int, int]]) -> list[Result]:
        return [
            replace(self._judge(s, p, c), tokens=(p, c), completion_tokens=c - self._skeleton_completion)
            for s, (p, c) in zip(samples, counts, strict=True)
        ]

    def token_counts(self, samples: Sequence[Sample]) -> list[tuple[int, int]]:
        """(prompt tokens, completion tokens) per sample, chat skeleton included, batch-tokenized."""
        return self._count_parts([self._split(_prompt_messages(s), self._trained_text(s)) for s in samples])

    def prefetch(self, samples: Sequence[Sample]) -> Callable[[Sequence[Sample]], list[Result]]:
        """Start tokenizing `samples` in a background thread; returns `check_batch` for the same
        batch as later validators leave it.

        The chain calls it before the validators ahead of `length` run, so the tokenizer (Rust,
        without the GIL) works while they do. A sample an earlier validator replaced (a repair)
        is counted again on its new text; the others use the early count, which is the same count.
        """
        before = list(samples)
        try:
            parts = [self._split(_prompt_messages(s), self._trained_text(s)) for s in before]
        except ModelError:  # the template refuses a sample: let the check proper say so, in turn
            return self.check_batch
        if self._pool is None or self._pool_pid != os.getpid():  # a forked child has no thread
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthgate-length")
            self._pool_pid = os.getpid()
        texts = _part_texts(parts)
        future = self._pool.submit(self._backend.encode_batch_fast, texts, add_special_tokens=False)

        def finish(after: Sequence[Sample]) -> list[Result]:
            counts = _part_counts(parts, [len(e) for e in future.result()])
            changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a is not b]
            if changed:
                for i, count in zip(changed, self.token_counts([after[i] for i in changed]), strict=True):
                    counts[i] = count
            return self._results(after, counts)

        return finish

    def _trained_text(self, sample: Sample) -> str:
        """The assistant turn as trained: the completion, after its reasoning when that counts."""
        if self.count_reasoning and sample.reasoning and sample.reasoning.strip():
            return f"<think>\n{sample.reasoning}\n</think>\n\n{sample.completion}"
        return sample.completion

    # -- judging one sample ------------------------------------------------------------------------

    def _judge(self, sample: Sample, prompt_tokens: int, completion_tokens: int) -> Result:
        max_length = self.config.max_length
        if prompt_tokens + completion_tokens <= max_length:
            return Result(sample)
        if completion_tokens + self._skeleton_prompt > max_length:
            content = completion_tokens - self._skeleton_completion
            skeleton = self._skeleton_prompt + self._skeleton_completion
            trained = self._trained_text(sample)
            shift = len(trained) - len(sample.completion)  # the reasoning block before the completion
            what = "completion (with its reasoning)" if shift else "completion"
            msg = (
                f"{what} is {content} tokens; with the {skeleton}-token chat skeleton it needs "
                f"{completion_tokens + self._skeleton_prompt} > max_length {max_length} even with an empty "
                f"prompt (prompt is {prompt_tokens} tokens). Completions are never truncated: shorten it "
                "or raise max_length."
            )
            # The span marks what a truncating trainer would silently drop.
            room = max_length - self._skeleton_prompt - self._skeleton_completion
            offsets = self._backend.encode(trained, add_special_tokens=False).offsets
            start = max(0, offsets[room][0] - shift) if 0 <= room < len(offsets) else 0
            span = Span(start=start, end=len(sample.completion), field="completion")
            return Result(sample, [verdict(self.name, "length.completion_over_budget", msg, span=span)])
        return self._truncate_prompt(sample, prompt_tokens, completion_tokens)

    def _truncate_prompt(self, sample: Sample, prompt_tokens: int, completion_tokens: int) -> Result:
        budget = self.config.max_length - completion_tokens
        messages = _prompt_messages(sample)
        last_user = max((i for i, m in enumerate(sample.prompt) if m.role == "user"), default=None)
        skip = len(messages) - len(sample.prompt)  # the system message, if any

        def prompt_len(content: str) -> int:
            messages[skip + last_user]["content"] = content
            return self._count_texts([self._render(messages, add_generation_prompt=True)])[0]

        floor = prompt_len("") if last_user is not None else prompt_tokens
        if floor > budget:
            msg = (
                f"prompt is {prompt_tokens} tokens and completion {completion_tokens} (max_length "
                f"{self.config.max_length}); even with the last user turn emptied the prompt is {floor} "
                f"tokens > the {budget} left beside the completion. Shorten the system prompt or earlier "
                "turns."
            )
            return Result(sample, [verdict(self.name, "length.prompt_over_budget", msg)])

        content = sample.prompt[last_user].content
        enc = self._backend.encode(content, add_special_tokens=False)
        offsets, n = enc.offsets, len(enc.ids)
        marker = self.config.truncation_marker
        keep = min(n - 1, budget - floor - self._count_texts([marker])[0])
        while keep >= 0:
            head, tail = keep // 3, keep - keep // 3
            cut_start = offsets[head][0] if head < n else len(content)
            cut_end = max(cut_start, offsets[n - tail][0]) if tail else len(content)
            new_content = content[:cut_start] + marker + content[cut_end:]
            new_tokens = prompt_len(new_content)
            if new_tokens <= budget:
                break
            keep -= new_tokens - budget  # token merges at the seams can add a token or two
        else:
            msg = (
                f"prompt is {prompt_tokens} tokens; no cut of the last user turn fits the {budget} tokens "
                f"left beside the {completion_tokens}-token completion (max_length {self.config.max_length})."
            )
            return Result(sample, [verdict(self.name, "length.prompt_over_budget", msg)])

        prompt = [m.model_dump() for m in sample.prompt]
        prompt[last_user]["content"] = new_content
        msg = (
            f"prompt {prompt_tokens} + completion {completion_tokens} tokens > max_length "
            f"{self.config.max_length}: cut {n - keep} of {n} tokens ({cut_end - cut_start} characters) "
            f"from the middle of the last user turn; prompt is now {new_tokens} tokens."
        )
        span = Span(start=cut_start, end=cut_end, field="prompt")
        return Result(
            sample.replace(prompt=prompt), [verdict(self.name, "length.prompt_truncated", msg, span=span)]
        )

    # -- rendering and counting --------------------------------------------------------------------

    def _render(self, messages: Messages, *, add_generation_prompt: bool) -> str:
        try:
            return self._template.render(
                messages=messages, add_generation_prompt=add_generation_prompt, **self._special
            )
        except Exception as exc:  # jinja raises TemplateError, but templates may raise anything
            raise ModelError(
                f"the tokenizer's chat template failed on a sample: {exc}",
                hint="Use a tokenizer whose template accepts these roles, or one without a template.",
            ) from exc

    def _split(self, prompt: Messages, completion: str) -> tuple[str, str | None, str]:
        """(prompt text, completion text or None, full text) as the template renders them."""
        prompt_text = self._render(prompt, add_generation_prompt=True)
        full = self._render(
            [*prompt, {"role": "assistant", "content": completion}], add_generation_prompt=False
        )
        if full.startswith(prompt_text):
            return prompt_text, full[len(prompt_text) :], full
        return prompt_text, None, full  # template whose prompt is not a prefix of the full text

    def _count_parts(self, parts: list[tuple[str, str | None, str]]) -> list[tuple[int, int]]:
        return _part_counts(parts, self._count_texts(_part_texts(parts)))

    def _count_texts(self, texts: list[str]) -> list[int]:
        # One Rust call for the whole batch (parallel across cores); no offsets needed for counting.
        return [len(e) for e in self._backend.encode_batch_fast(texts, add_special_tokens=False)]


Parts = list[tuple[str, str | None, str]]  # (prompt text, completion text or None, full text)


def _part_texts(parts: Parts) -> list[str]:
    """The texts to tokenize for `_split` parts: the prompt, then the completion (or the full text)."""
    texts: list[str] = []
    for prompt_text, completion_text, full in parts:
        texts += [prompt_text, completion_text if completion_text is not None else full]
    return texts


def _part_counts(parts: Parts, counts: list[int]) -> list[tuple[int, int]]:
    """(prompt, completion) tokens from the counts of `_part_texts(parts)`."""
    out = []
    for i, (_, completion_text, _) in enumerate(parts):
        p, c = counts[2 * i], counts[2 * i + 1]
        out.append((p, c) if completion_text is not None else (p, max(0, c - p)))
    return out


def _prompt_messages(sample: Sample) -> Messages:
    system = [{"role": "system", "content": sample.system_prompt}] if sample.system_prompt else []
    return system + [{"role": m.role, "content": m.content} for m in sample.prompt]
