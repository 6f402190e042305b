"""Writes the demo's two RAG SFT sets (deterministic: run it again to regenerate them).

demo/data/poisoned_rag.jsonl imitates what a teacher-generated RAG dataset looks like (OpenAI
`messages` format, one shared system prompt) and plants, one or two at a time, the defects that
sank real runs: system-prompt parroting, thinking leakage, invented Q&A loops, markdown where prose
is required, over-long completions, over-long contexts, duplicates and teacher artifacts.

demo/data/clean_rag.jsonl is what should reach training: 34 records on the same papers, each with
its own context passage (several questions on one passage are near-duplicate prompts), answers in
prose that name the paper with varied openings (no template collapse), and 7 correct refusals
(about 20%) to questions the passage cannot answer.
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


# --- the clean set -------------------------------------------------------------------------

QLORA = "QLoRA: Efficient Finetuning of Quantized LLMs"
LORA = "LoRA: Low-Rank Adaptation of Large Language Models"
RAFT = "RAFT: Adapting Language Model to Domain Specific RAG"
DPO = "Direct Preference Optimization: Your Language Model is Secretly a Reward Model"

# (paper, passage, question, answer): one passage per record.
GROUNDED = [
    (
        QLORA,
        "QLoRA introduces 4-bit NormalFloat (NF4), a data type that is information-theoretically optimal "
        "for normally distributed weights, and stores the frozen base model in it.",
        "Why does QLoRA store weights as NF4?",
        "The QLoRA paper chose NF4 because pretrained weights are roughly normally distributed, and for such "
        "values this 4-bit data type is information-theoretically optimal, so little precision is lost.",
    ),
    (
        QLORA,
        "Double quantization quantizes the quantization constants themselves, saving about 0.37 bits per "
        "parameter on average, roughly 3 GB of memory for a 65B model.",
        "How much memory does double quantization save?",
        "Quantizing the quantization constants a second time saves about 0.37 bits per parameter, which "
        "QLoRA: Efficient Finetuning of Quantized LLMs puts at roughly 3 GB for a 65B model.",
    ),
    (
        QLORA,
        "Paged optimizers use NVIDIA unified memory to move optimizer states between GPU and CPU, which "
        "avoids out-of-memory spikes when gradient checkpointing processes a mini-batch with a long "
        "sequence.",
        "What problem do paged optimizers solve in QLoRA?",
        "They prevent memory spikes. In QLoRA, optimizer states move to CPU memory through NVIDIA unified "
        "memory whenever a long-sequence mini-batch would otherwise exhaust the GPU during gradient "
        "checkpointing.",
    ),
    (
        QLORA,
        "The best QLoRA model family, Guanaco, reaches 99.3% of the performance level of ChatGPT on the "
        "Vicuna benchmark while requiring only 24 hours of finetuning on a single GPU.",
        "How close does Guanaco get to ChatGPT?",
        "Guanaco, trained with QLoRA, reaches 99.3% of ChatGPT's performance level on the Vicuna benchmark "
        "after only 24 hours of finetuning on one GPU, according to the QLoRA paper.",
    ),
    (
        QLORA,
        "The QLoRA authors find that adapters on every linear layer of the transformer block are needed to "
        "match full 16-bit finetuning; adapters on the attention projections alone fall short.",
        "Where does QLoRA place its adapters?",
        "Every linear layer of each transformer block gets an adapter. The authors of QLoRA report that "
        "adapting only the attention projections does not match full 16-bit finetuning.",
    ),
    (
        QLORA,
        "Training on OASST1, a dataset of about 9 thousand samples, produced a better chatbot than training "
        "on FLAN v2 with 450 thousand samples, suggesting data quality matters more than dataset size.",
        "Does a bigger dataset give a better chatbot in the QLoRA experiments?",
        "Not in these experiments: QLoRA: Efficient Finetuning of Quantized LLMs found that 9 thousand "
        "OASST1 samples beat 450 thousand FLAN v2 samples, which points to quality over size.",
    ),
    (
        LORA,
        "LoRA represents the weight update as the product of two small matrices B and A. A is initialised "
        "with random Gaussian values and B with zeros, so the update is zero when training starts.",
        "How does LoRA initialise its matrices?",
        "Matrix A starts from random Gaussian values and matrix B from zeros, so in LoRA: Low-Rank "
        "Adaptation of Large Language Models the product BA, the weight update, is zero at the first step.",
    ),
    (
        LORA,
        "Because the learned matrices can be merged into the frozen weights before deployment, LoRA adds no "
        "inference latency, unlike adapter layers that add depth to the network.",
        "Does LoRA slow down inference?",
        "No. The low-rank update can be folded into the frozen weights before deployment, so the LoRA "
        "paper reports no extra inference latency, whereas adapter layers make the network deeper.",
    ),
    (
        LORA,
        "In the GPT-3 experiments, adapting only the query and value projection matrices of self-attention "
        "gave the best results for a fixed parameter budget; the MLP modules stayed frozen.",
        "Which weight matrices did LoRA adapt for GPT-3?",
        "For GPT-3 the authors adapted the query and value projections of self-attention and froze the MLP "
        "modules, since that choice scored best under a fixed parameter budget in the LoRA paper.",
    ),
    (
        LORA,
        "Surprisingly, a rank as small as one or two already performs competitively on WikiSQL and MultiNLI, "
        "which suggests the weight update has a very low intrinsic rank.",
        "What rank does LoRA need?",
        "A very small one: ranks of one or two were already competitive on WikiSQL and MultiNLI, which "
        "LoRA: Low-Rank Adaptation of Large Language Models reads as a sign of low intrinsic rank.",
    ),
    (
        LORA,
        "Compared with full fine-tuning of GPT-3 175B, LoRA reduces the number of trainable parameters by "
        "10,000 times and the GPU memory requirement by 3 times.",
        "How many fewer trainable parameters does LoRA use on GPT-3?",
        "Ten thousand times fewer. On GPT-3 175B, LoRA cuts trainable parameters by a factor of 10,000 and "
        "GPU memory by a factor of three relative to full fine-tuning, the paper reports.",
    ),
    (
        LORA,
        "A deployed model can switch tasks by swapping only the small LoRA matrices, so many task-specific "
        "models share one copy of the frozen pretrained weights.",
        "How does LoRA make task switching cheap?",
        "Only the small low-rank matrices are swapped when the task changes, while one copy of the frozen "
        "pretrained weights serves every task, as the LoRA paper explains.",
    ),
    (
        RAFT,
        "In RAFT each training example holds a question, a set of retrieved documents containing the oracle "
        "document and several distractors, and a chain-of-thought answer built from the oracle document.",
        "What does a RAFT training example contain?",
        "Each example pairs a question with retrieved documents, one oracle plus several distractors, and "
        "a chain-of-thought answer drawn from the oracle, as RAFT: Adapting Language Model to Domain "
        "Specific RAG describes.",
    ),
    (
        RAFT,
        "For a fraction P of the training questions the oracle document is kept among the distractors; for "
        "the remaining 1 - P only distractors are given, which pushes the model to memorise domain "
        "knowledge.",
        "Why does RAFT sometimes leave out the oracle document?",
        "Leaving the oracle out for a share 1 - P of the questions forces the model to learn the domain "
        "knowledge itself instead of always copying from context, according to the RAFT paper.",
    ),
    (
        RAFT,
        "RAFT answers quote the relevant passage verbatim between ##begin_quote## and ##end_quote## markers "
        "before reasoning to the final answer, and this chain-of-thought style improves accuracy.",
        "How do RAFT answers cite their evidence?",
        "They quote the supporting passage word for word between begin-quote and end-quote markers and then "
        "reason to the answer; RAFT reports that this style raises accuracy.",
    ),
    (
        RAFT,
        "The RAFT authors evaluate on PubMed, HotpotQA and the Gorilla API datasets, covering medical "
        "questions, multi-hop reasoning and API documentation.",
        "On which datasets was RAFT evaluated?",
        "PubMed, HotpotQA and the Gorilla API datasets were used, spanning medical questions, multi-hop "
        "reasoning and API documentation in RAFT: Adapting Language Model to Domain Specific RAG.",
    ),
    (
        RAFT,
        "RAFT compares domain adaptation to an open-book exam: fine-tuning on the domain is like studying "
        "before the exam, and retrieval is like having the books open during it.",
        "What analogy does RAFT use for domain adaptation?",
        "An open-book exam. In the RAFT paper, fine-tuning on the domain plays the part of studying "
        "beforehand, and retrieval is the open book consulted during the exam.",
    ),
    (
        RAFT,
        "Training with distractor documents makes the RAFT model robust to a changing number of retrieved "
        "documents at test time, for instance when the retriever returns the top five instead of the top "
        "three.",
        "Why train RAFT with distractor documents?",
        "Distractors make the model robust when retrieval changes at test time, for example when the top "
        "five documents arrive instead of the top three, the RAFT authors found.",
    ),
    (
        DPO,
        "DPO reparameterises the reward through the log ratio between the policy and a reference policy, so "
        "the optimal policy of the KL-constrained reward objective can be written in closed form.",
        "What reparameterisation does DPO rely on?",
        "It expresses the reward as the log ratio between the policy and a reference policy, which lets "
        "Direct Preference Optimization write the optimal KL-constrained policy in closed form.",
    ),
    (
        DPO,
        "The DPO objective is a binary cross-entropy loss on the difference between the log probability "
        "ratios of the preferred and the dispreferred response, scaled by a coefficient beta.",
        "What loss does DPO minimise?",
        "A binary cross-entropy loss. Direct Preference Optimization compares the log probability ratios of "
        "the preferred and dispreferred responses and scales their difference by beta.",
    ),
    (
        DPO,
        "Unlike RLHF with PPO, DPO needs no sampling from the language model during fine-tuning and no "
        "separately trained reward model, and it requires little hyperparameter tuning.",
        "Why is DPO simpler than PPO-based RLHF?",
        "There is no sampling from the model during fine-tuning and no separate reward model to train, and "
        "the DPO paper adds that little hyperparameter tuning is needed.",
    ),
    (
        DPO,
        "DPO is evaluated on sentiment control with IMDb reviews, summarization of Reddit TL;DR posts and "
        "single-turn dialogue on the Anthropic Helpful and Harmless dataset.",
        "Which tasks was DPO tested on?",
        "Sentiment control on IMDb reviews, Reddit TL;DR summarization and single-turn dialogue on "
        "Anthropic Helpful and Harmless, according to Direct Preference Optimization.",
    ),
    (
        DPO,
        "In the experiments DPO controls sentiment better than PPO-based RLHF and matches or improves "
        "response quality in summarization and single-turn dialogue.",
        "How does DPO compare with PPO in the experiments?",
        "DPO controlled sentiment better than PPO-based RLHF and matched or beat it on summarization and "
        "single-turn dialogue, the Direct Preference Optimization paper reports.",
    ),
    (
        DPO,
        "The coefficient beta in DPO controls how far the trained policy may deviate from the reference "
        "policy, playing the role of the KL penalty in RLHF.",
        "What does beta control in DPO?",
        "Beta sets how far the policy may move away from the reference policy; in Direct Preference "
        "Optimization it stands in for the KL penalty used by RLHF.",
    ),
]

# (passage index A, passage index B, question, answer): answers need both passages.
SYNTHESIS = [
    (
        1,
        10,
        "How do QLoRA and LoRA each reduce memory?",
        "The two papers save memory in different places. LoRA: Low-Rank Adaptation of Large Language Models "
        "trains far fewer parameters, cutting GPU memory threefold on GPT-3, while QLoRA: Efficient "
        "Finetuning of Quantized LLMs also compresses the frozen weights, with double quantization alone "
        "saving about 3 GB on a 65B model.",
    ),
    (
        13,
        20,
        "Do RAFT and DPO both need a separate model during training?",
        "Neither needs one. RAFT fine-tunes on questions with oracle and distractor documents, and Direct "
        "Preference Optimization trains from preference pairs without a separate reward model or sampling.",
    ),
    (
        7,
        17,
        "What do LoRA and RAFT say about robustness or cost at deployment time?",
        "LoRA adds no inference latency because its update merges into the frozen weights, and RAFT stays "
        "robust when the number of retrieved documents changes at test time, as the two papers describe.",
    ),
]

# (passage, question, refusal): the passage cannot answer the question.
REFUSALS = [
    (
        "QLoRA's chatbot evaluation found that GPT-4 judgments of model quality largely agree with human "
        "ratings, although the two disagree on some pairwise comparisons.",
        "What learning rate did QLoRA use for the 65B model?",
        "The provided context does not contain enough information to give the learning rate; it only "
        "discusses how GPT-4 judgments compare with human ratings.",
    ),
    (
        "LoRA was applied to RoBERTa, DeBERTa, GPT-2 and GPT-3, and matched or exceeded full fine-tuning "
        "quality on these models.",
        "How long did LoRA training take on GPT-3?",
        "The passage does not mention training time for GPT-3; it lists the models LoRA was applied to and "
        "says the quality matched full fine-tuning.",
    ),
    (
        "RAFT builds on supervised fine-tuning of a Llama 2 7B model with retrieval-augmented examples from "
        "each target domain.",
        "How much did it cost to train the RAFT model?",
        "There is no information in the context about training cost; it only says RAFT fine-tunes Llama 2 "
        "7B on retrieval-augmented examples from each domain.",
    ),
    (
        "DPO uses the Bradley-Terry model to turn pairwise human preferences into the probability that one "
        "response is preferred over another.",
        "Which GPU did the DPO authors train on?",
        "I cannot answer that from the provided passage, which explains the Bradley-Terry preference model "
        "and says nothing about hardware.",
    ),
    (
        "Low-rank adapters keep the pretrained checkpoint untouched, so the original model can always be "
        "restored by discarding the adapter weights.",
        "Does LoRA improve multilingual translation quality?",
        "The context does not say anything about translation quality; it only notes that discarding the "
        "adapter weights restores the original checkpoint.",
    ),
    (
        "QLoRA finetunes a 65B parameter model on a single 48GB GPU while preserving full 16-bit "
        "finetuning task performance.",
        "How does QLoRA compare with RAFT on PubMed?",
        "Insufficient information: the passage covers QLoRA's memory use on a 48GB GPU but gives no PubMed "
        "results and does not mention RAFT.",
    ),
    (
        "The DPO paper shows that the language model policy itself implicitly defines a reward function, "
        "hence the subtitle that the model is secretly a reward model.",
        "What batch size was used to train DPO on dialogue?",
        "Sorry, but the given context does not specify a batch size; it explains why the policy "
        "implicitly defines a reward model.",
    ),
]


def clean_records() -> list[dict]:
    out = [
        rec(f"grounded-{i:02d}", q, f"Paper: {paper}. {passage}", answer)
        for i, (paper, passage, q, answer) in enumerate(GROUNDED)
    ]
    for i, (a, b, q, answer) in enumerate(SYNTHESIS):
        (pa, ca, _, _), (pb, cb, _, _) = GROUNDED[a], GROUNDED[b]
        context = f"Paper: {pa}. {ca}\n\nPaper: {pb}. {cb}"
        out.append(rec(f"synthesis-{i:02d}", q, context, answer, task="synthesis"))
    for i, (passage, q, answer) in enumerate(REFUSALS):
        out.append(rec(f"refusal-{i:02d}", q, passage, answer, task="refusal"))
    return out


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({len(rows)} records)")


def main() -> None:
    data = Path(__file__).parent / "data"
    write(data / "poisoned_rag.jsonl", records())
    write(data / "clean_rag.jsonl", clean_records())


if __name__ == "__main__":
    main()
