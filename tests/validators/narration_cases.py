# ruff: noqa: E501 (one case per line reads best)
"""Narrated instructions: >= 30 narrations of varied wording over five system prompts, and >= 30 clean
answers that share the rules' vocabulary (refusals, "according to the passage", section citations).
Written for synthgate's tests; used by test_leakage_narration.py and to measure recall/precision."""

from __future__ import annotations

PASSAGES = (
    "Answer only from the given passages. Name the source of each point. Write in plain prose without lists."
)
SUPPORT = (
    "You are a support assistant for Acme Cloud. Be concise: answer in at most three sentences. "
    "Never mention competitors. If the context does not contain enough information, say so."
)
COOKING = (
    "You are a cooking tutor. Always give metric measurements. Explain the reason behind each step. "
    "Do not recommend any brand names."
)
HANDBOOK = (
    "Respond in a friendly, encouraging tone. Keep answers under 100 words. "
    "Cite the relevant section number of the handbook for every claim."
)
DOCUMENTS = (
    "Use only the provided documents to answer. Do not speculate beyond them. "
    "Quote the exact figures given in the documents."
)

NARRATIONS: list[tuple[str, str]] = [
    (PASSAGES, "As the rules require, I answer only from the given passages, naming the source of each point, in plain prose."),
    (PASSAGES, "I will only use the given passages and name the source for each point, writing in plain prose."),
    (PASSAGES, "Following my guidelines, I'll stick to the passages provided and cite where each point comes from."),
    (PASSAGES, "As instructed, my answer relies solely on the passages and avoids lists."),
    (PASSAGES, "My answer uses only the given passages and names the source of every point."),
    (PASSAGES, "Per the instructions, I'm sticking to the supplied passages and writing in prose rather than lists."),
    (PASSAGES, "Since I was told to answer only from the passages, here is what they say, with sources."),
    (PASSAGES, "I have been asked to use only the passages and to name sources, so here goes."),
    (PASSAGES, "As the system prompt says, I answer only from the passages and name each source."),
    (SUPPORT, "As instructed, I'll keep this to three sentences and won't mention any competitors."),
    (SUPPORT, "Keeping to my brief of at most three sentences and no competitor mentions, here is the answer."),
    (SUPPORT, "I'm supposed to stay concise and avoid naming competitors, so here goes."),
    (SUPPORT, "Following the guidelines, I will be concise, answer in three sentences at most, and not mention competitors."),
    (SUPPORT, "My instructions are to answer in no more than three sentences and never talk about competitors."),
    (SUPPORT, "I am required to say so when the context lacks enough information, and to be concise."),
    (COOKING, "I'll give all measurements in metric and explain why each step matters, as instructed, and I won't recommend brand names."),
    (COOKING, "As per my instructions, measurements are metric and no brand names are recommended."),
    (COOKING, "I was told to use metric units and to explain every step's reason, so here they are."),
    (COOKING, "In line with my guidelines, I'll use grams and millilitres and explain the reason for each step."),
    (COOKING, "Since I must not recommend brands and must use metric measurements, I'll describe generic flour in grams."),
    (COOKING, "As a cooking tutor, I always give metric measurements and explain the reason behind each step, without recommending brands."),
    (HANDBOOK, "As instructed, I'll keep a friendly, encouraging tone, stay under 100 words and cite the handbook section for each claim."),
    (HANDBOOK, "Following my instructions, I keep this under 100 words and cite the handbook section number for every claim."),
    (HANDBOOK, "My guidelines ask me to be encouraging and to cite section numbers, so: great question!"),
    (HANDBOOK, "I'm meant to keep answers short, under a hundred words, and cite the handbook sections."),
    (HANDBOOK, "To follow the rules, I'll stay friendly and encouraging and give the section number of the handbook for each claim."),
    (DOCUMENTS, "I will only use the provided documents, won't speculate beyond them, and will quote the exact figures."),
    (DOCUMENTS, "As directed, I rely solely on the documents and quote their exact figures without speculating."),
    (DOCUMENTS, "My answer sticks to the provided documents and does not speculate beyond them."),
    (DOCUMENTS, "Per my instructions, I'm not speculating beyond the documents, and I quote the figures exactly as given."),
    (DOCUMENTS, "I've been instructed to use only the documents and quote exact figures, so here they are."),
    (DOCUMENTS, "According to my guidelines, I must not speculate and must quote the exact figures from the documents."),
    (DOCUMENTS, "Sticking to the provided documents as required, and quoting their figures exactly: revenue was $4.2M."),
]  # fmt: skip

CLEAN: list[tuple[str, str]] = [
    (PASSAGES, "According to the passage from the 2019 report, emissions fell by 12 percent."),
    (PASSAGES, "The first passage (Smith, 2020) says the bridge opened in 1932, while the second source dates it to 1933."),
    (PASSAGES, "Both passages agree that the treaty was signed in Paris; the source for this is the Reuters article."),
    (PASSAGES, "The given passages do not say when the company was founded."),
    (PASSAGES, "Passage two, from the city archive, names the architect as Jane Doe."),
    (PASSAGES, "The source of the first point is the Guardian piece, which reports a plain decline in sales."),
    (PASSAGES, "Based only on the passages given, the river floods every spring; the source is the 1998 survey."),
    (SUPPORT, "The provided context does not contain enough information to answer."),
    (SUPPORT, "The context does not contain enough information to say which plan includes backups."),
    (SUPPORT, "Acme Cloud's storage tier keeps three copies of your data. Restores take under an hour."),
    (SUPPORT, "I don't have enough information in the context to answer that."),
    (SUPPORT, "You can reset your password from the account page. It takes about a minute."),
    (SUPPORT, "The context doesn't say, so I can't tell whether that region is supported."),
    (COOKING, "Use 250 grams of flour and 150 millilitres of milk; the reason is that this ratio keeps the batter thick."),
    (COOKING, "Whisk the eggs first: the reason behind this step is to trap air so the cake rises."),
    (COOKING, "Any plain flour works here; the brand does not matter as long as it is fresh."),
    (COOKING, "Bake at 180 degrees Celsius for 25 minutes, because a lower temperature dries the crumb."),
    (COOKING, "Measure 5 grams of salt. Each step has a reason: salt strengthens the gluten."),
    (HANDBOOK, "Great question! Section 4.2 of the handbook says leave requests need two weeks' notice."),
    (HANDBOOK, "You're doing well! Per section 7, expenses are reimbursed within 30 days."),
    (HANDBOOK, "Section 3.1 covers remote work: you may work from home two days a week. Keep it up!"),
    (HANDBOOK, "As the handbook explains in section 2, new hires get a mentor in their first month."),
    (HANDBOOK, "Following section 9 of the handbook, overtime must be approved in advance."),
    (DOCUMENTS, "The documents report revenue of $4.2 million in 2023, up from $3.9 million."),
    (DOCUMENTS, "According to the provided documents, the plant employs 1,240 people."),
    (DOCUMENTS, "The documents do not mention the 2024 forecast, so I cannot give a figure."),
    (DOCUMENTS, "The quarterly report lists exactly 17 new stores; it gives no reason for the expansion."),
    (DOCUMENTS, "Based on the provided documents, the merger closed on 3 March."),
    (DOCUMENTS, "As instructed by your doctor, take the tablets twice a day with food."),
    (DOCUMENTS, "Follow the instructions in the README to install the package, then run the tests."),
    (PASSAGES, "According to the guidelines in the paper, annotators labelled each passage twice."),
    (PASSAGES, "The rules of chess say a pawn may move two squares on its first move."),
    (DOCUMENTS, "I will use the provided formula to compute the area: 3.14 × 5² = 78.5."),
    (SUPPORT, "If you need more help, say so and I will open a ticket with the support team."),
]  # fmt: skip
