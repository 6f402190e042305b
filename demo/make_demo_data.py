"""Writes demo/data/poisoned_rag.jsonl: a small RAG SFT set carrying each failure mode.

The records imitate what a teacher-generated RAG dataset looks like (OpenAI `messages` format,
one shared system prompt) and plant, one or two at a time, the defects that sank real runs:
system-prompt parroting, thinking leakage, invented Q&A loops, markdown where prose is required,
over-long completions, over-long contexts, duplicates and teacher artifacts.
Run it again to regenerate the file (it is deterministic).
"""

from __future__ import annotations

import json
from pathlib import Path

SYSTEM = (
    "You are a research assistant answering questions about machine learning papers. "
    "Answer only from the provided context and cite the paper title in your answer. "
    "Answer in concise prose paragraphs without markdown headers or bullet points. "
    "Do not generalise findings from one paper as universal recommendations. "
    "If the context does not contain enough information, say so."
)

CTX_QLORA = (
    "Paper: QLoRA: Efficient Finetuning of Quantized LLMs. QLoRA backpropagates gradients through a "
    "frozen, 4-bit quantized pretrained language model into Low Rank Adapters. It introduces 4-bit "
    "NormalFloat, double quantization and paged optimizers, and finetunes a 65B model on a single 48GB GPU."
)
CTX_LORA = (
    "Paper: LoRA: Low-Rank Adaptation of Large Language Models. LoRA freezes the pretrained weights and "
    "injects trainable rank decomposition matrices into each layer of the Transformer, reducing the number "
    "of trainable parameters by 10,000 times and GPU memory by 3 times compared with full fine-tuning."
)
CTX_RAFT = (
    "Paper: RAFT: Adapting Language Model to Domain Specific RAG. RAFT trains the model to ignore "
    "distractor documents that do not help answer the question, and to cite verbatim the right sequence "
    "from the relevant document, with chain-of-thought style answers."
)
CTX_DPO = (
    "Paper: Direct Preference Optimization. DPO optimizes a policy directly from preference pairs with a "
    "simple classification loss, without fitting a separate reward model or sampling during training."
)

A_QLORA = (
    "According to QLoRA: Efficient Finetuning of Quantized LLMs, QLoRA keeps the pretrained model frozen "
    "in 4-bit precision and trains only Low Rank Adapters through it. The paper adds 4-bit NormalFloat, "
    "double quantization and paged optimizers, which together let a 65B model be finetuned on one 48GB GPU."
)
A_LORA = (
    "LoRA: Low-Rank Adaptation of Large Language Models freezes the pretrained weights and learns small "
    "rank decomposition matrices in each Transformer layer instead. The authors report roughly 10,000 times "
    "fewer trainable parameters and a third of the GPU memory of full fine-tuning."
)
A_RAFT = (
    "RAFT: Adapting Language Model to Domain Specific RAG teaches a model to disregard distractor documents "
    "and to quote the exact supporting passage from the relevant document before reasoning to an answer."
)
A_DPO = (
    "Direct Preference Optimization trains the policy straight from preference pairs with a classification "
    "loss, so it needs neither a separate reward model nor sampling during training, as the paper describes."
)
REFUSAL = (
    "The provided context does not contain enough information to answer how RLHF reward models are "
    "calibrated; the passage only describes LoRA's low-rank adapters."
)


def user(context: str, question: str) -> str:
    return f"Context:\n{context}\n\nQuestion: {question}"


def rec(rid: str, question: str, context: str, answer: str, task: str = "grounded", **meta) -> dict:
    out = {
        "id": rid,
        "task_type": task,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user(context, question)},
            {"role": "assistant", "content": answer},
        ],
    }
    out.update(meta)
    return out


def records() -> list[dict]:
    long_answer = " ".join(
        f"Step {i}: the paper QLoRA: Efficient Finetuning of Quantized LLMs describes how adapter number {i} "
        f"receives gradients through the frozen 4-bit base model while the optimizer state is paged."
        for i in range(1, 41)
    )
    long_context = " ".join(
        f"Section {i} of the survey discusses retrieval corpus shard {i}, its indexing cost and its recall."
        for i in range(1, 121)
    )
    fake_key = "sk-" + "proj-" + "Zq8vN3xR" * 4
    return [
        rec("clean-qlora", "What does QLoRA train?", CTX_QLORA, A_QLORA),
        rec("clean-lora", "How does LoRA reduce trainable parameters?", CTX_LORA, A_LORA),
        rec("clean-raft", "What does RAFT teach the model?", CTX_RAFT, A_RAFT),
        rec("clean-dpo", "What does DPO avoid?", CTX_DPO, A_DPO),
        rec("clean-refusal", "How are RLHF reward models calibrated?", CTX_LORA, REFUSAL, task="refusal"),
        # The seed failure: the thinking field leaked and the answer recites the system prompt first.
        rec("leak-verbatim", "What is QLoRA?", CTX_QLORA, SYSTEM + " " + A_QLORA),
        rec(
            "leak-rule",
            "What does LoRA freeze?",
            CTX_LORA,
            A_LORA + " Do not generalise findings from one paper as universal recommendations.",
        ),
        rec(
            "leak-paraphrase",
            "What does DPO need?",
            CTX_DPO,
            "As instructed, I will only use the provided context and answer in prose without bullet points. "
            + A_DPO,
        ),
        rec(
            "think-stripped",
            "What is RAFT about?",
            CTX_RAFT,
            "<think>The system prompt says answer only from the provided context and cite the paper title."
            "</think>\n\n" + A_RAFT,
        ),
        rec(
            "think-unclosed",
            "What does QLoRA introduce?",
            CTX_QLORA,
            "<think>The user wants the components. Answer in concise prose paragraphs. "
            "I should list NormalFloat, double quantization",
        ),
        # The seed failure: invented follow-up Q&A pairs degenerating into a fragment loop.
        rec(
            "loop-qa",
            "What is QLoRA?",
            CTX_QLORA,
            A_QLORA
            + " Question: Can QLoRA be applied to models other than large language models? Answer: QLoRA is "
            "primarily designed for large language models. Question: What is the impact of QLoRA on "
            "performance compared to full fine-tuning? Answer: QLoRA generally maintains performance. "
            + "Question: Can QLo. 0 "
            * 20,
        ),
        rec(
            "format-bullets",
            "What are QLoRA's components?",
            CTX_QLORA,
            "QLoRA: Efficient Finetuning of Quantized LLMs introduces:\n- 4-bit NormalFloat\n"
            "- double quantization\n- paged optimizers",
        ),
        rec(
            "length-truncated-by-teacher",
            "Summarise DPO.",
            CTX_DPO,
            "Direct Preference Optimization trains the policy straight from preference pairs and",
            finish_reason="length",
        ),
        rec("length-over-budget", "Explain QLoRA step by step in prose.", CTX_QLORA, long_answer),
        rec(
            "length-long-context",
            "Which shard has the best recall?",
            long_context,
            "The provided context does not contain enough information to say which shard has the best "
            "recall; each section lists recall without comparing the shards.",
            task="refusal",
        ),
        rec("dup-exact", "What does QLoRA train?", CTX_QLORA, A_QLORA),
        rec(
            "dup-near",
            "How does LoRA reduce the trainable parameters?",
            CTX_LORA,
            A_LORA.replace("roughly", "about"),
        ),
        rec(
            "artifact-citation",
            "What does RAFT do with distractors?",
            CTX_RAFT,
            "[cite_start]RAFT: Adapting Language Model to Domain Specific RAG trains the model to ignore "
            "distractor documents [cite: 6524].",
        ),
        rec(
            "artifact-boilerplate",
            "Is DPO better than PPO?",
            CTX_DPO,
            "As an AI language model, I cannot run experiments, but Direct Preference Optimization avoids a "
            "separate reward model, which the paper presents as simpler than PPO-based RLHF.",
        ),
        rec(
            "artifact-placeholder",
            "Can we {action} without {requirement}?",
            CTX_LORA,
            "LoRA: Low-Rank Adaptation of Large Language Models lets you adapt a model without updating "
            "its pretrained weights.",
        ),
        rec(
            "secret-in-answer",
            "How do I call the API used in the QLoRA paper?",
            CTX_QLORA,
            "QLoRA: Efficient Finetuning of Quantized LLMs does not describe an API; use your key "
            f"{fake_key} only in your own environment.",
        ),
    ]


def main() -> None:
    out = Path(__file__).parent / "data" / "poisoned_rag.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for r in records():
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
