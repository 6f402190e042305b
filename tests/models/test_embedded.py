"""The embedded Gemma 3 tokenizer: cached conversion, turn template, local-only loading."""

from __future__ import annotations

import pytest

from synthgate.errors import ModelError
from synthgate.models.embedded import (
    PLAIN_CHAT_TEMPLATE,
    cache_dir,
    embedded_tokenizer_dir,
    gemma_chat_template,
    load_tokenizer,
)

CHAT = [
    {"role": "system", "content": "Answer only from the context."},
    {"role": "user", "content": "What is LoRA?"},
    {"role": "assistant", "content": "A low-rank adapter."},
]


def test_cache_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTHGATE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SYNTHGATE_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "synthgate")


def test_embedded_tokenizer_is_converted_once_into_the_cache(gemma_tokenizer):
    folder = embedded_tokenizer_dir()
    assert folder.is_dir() and (folder / "tokenizer.json").is_file()
    # no temp folder is left beside the finished entry
    assert not [p for p in folder.parent.iterdir() if ".tmp-" in p.name]
    assert gemma_tokenizer.backend_tokenizer is not None
    assert gemma_tokenizer.convert_ids_to_tokens(
        gemma_tokenizer.encode("<start_of_turn>", add_special_tokens=False)
    ) == ["<start_of_turn>"]


def test_gemma_template_folds_the_system_prompt_into_the_first_user_turn(gemma_tokenizer):
    text = gemma_tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert text == (
        "<bos><start_of_turn>user\nAnswer only from the context.\n\nWhat is LoRA?<end_of_turn>\n"
        "<start_of_turn>model\nA low-rank adapter.<end_of_turn>\n"
    )


def test_gemma_generation_prompt_opens_a_model_turn(gemma_tokenizer):
    text = gemma_tokenizer.apply_chat_template(CHAT[1:2], tokenize=False, add_generation_prompt=True)
    assert text == "<bos><start_of_turn>user\nWhat is LoRA?<end_of_turn>\n<start_of_turn>model\n"


def test_embedded_tokenizer_gets_the_shipped_template(gemma_tokenizer):
    assert gemma_tokenizer.chat_template == gemma_chat_template()


def test_a_tokenizer_folder_loads_without_a_template(gemma_tokenizer):
    tok = load_tokenizer(str(embedded_tokenizer_dir()))
    assert tok.chat_template is None
    assert tok.encode("Hello world.", add_special_tokens=False) == gemma_tokenizer.encode(
        "Hello world.", add_special_tokens=False
    )


def test_plain_layout_renders_roles_and_eos(gemma_tokenizer):
    text = gemma_tokenizer.apply_chat_template(CHAT, tokenize=False, chat_template=PLAIN_CHAT_TEMPLATE)
    assert text == (
        "System: Answer only from the context.\n\nUser: What is LoRA?\n\nAssistant: A low-rank adapter.<eos>"
    )
    prompt = gemma_tokenizer.apply_chat_template(
        CHAT[:2], tokenize=False, add_generation_prompt=True, chat_template=PLAIN_CHAT_TEMPLATE
    )
    assert text.startswith(prompt) and prompt.endswith("\n\nAssistant: ")


def test_missing_path_raises_model_error_naming_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(
        ModelError, match=r"tokenizer not found: .*nope is neither a folder nor a \.gguf file"
    ):
        load_tokenizer(str(missing))


def test_folder_without_tokenizer_files_raises_model_error(tmp_path):
    with pytest.raises(ModelError, match=r"could not load a tokenizer from .*"):
        load_tokenizer(str(tmp_path))


def test_corrupt_gguf_raises_model_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHGATE_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelError, match=r"could not read a tokenizer from the GGUF file .*broken\.gguf"):
        load_tokenizer(str(bad))
    # the failed conversion leaves no cache entry behind
    leftovers = [p.name for p in (tmp_path / "cache" / "gguf-tokenizers").iterdir() if p.suffix != ".lock"]
    assert leftovers == []
