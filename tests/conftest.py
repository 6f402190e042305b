"""Shared fixtures: the real embedded tokenizer, loaded once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def gemma_tokenizer():
    """The embedded Gemma 3 270M tokenizer with its turn template (converted into the cache once)."""
    from synthgate.validators.length import default_tokenizer

    return default_tokenizer()
