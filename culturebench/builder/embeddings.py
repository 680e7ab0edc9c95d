"""Cosine similarity of texts embedded by a local transformers encoder, for the optional dedup pass."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from culturebench.errors import CultureBenchError

logger = logging.getLogger(__name__)

BATCH_SIZE = 32


class EmbeddingModel:
    """Mean-pooled last hidden states of a local model folder, L2-normalised.

    Any folder that `transformers.AutoModel` loads works, but mean pooling suits sentence
    encoders (MiniLM, E5 and the like). Embeddings are kept per text, so each text is encoded once.
    """

    def __init__(self, path: Path) -> None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise CultureBenchError(
                f"embedding model folder {str(path)!r} not found; pass a local model directory "
                "(the builder never downloads one) or leave out --embedding-model"
            )
        self.path = path
        self._model = None
        self._tokenizer = None
        self._vectors: dict[str, np.ndarray] = {}

    def similarity(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Return the cosine similarity of each query (rows) to each text (columns)."""
        self._encode_missing([*queries, *texts])
        left = np.stack([self._vectors[text] for text in queries])
        right = np.stack([self._vectors[text] for text in texts])
        return left @ right.T

    def _encode_missing(self, texts: Sequence[str]) -> None:
        import torch

        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        if not missing:
            return
        self._load()
        for start in range(0, len(missing), BATCH_SIZE):
            batch = missing[start : start + BATCH_SIZE]
            encoded = self._tokenizer(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
            with torch.no_grad():
                hidden = self._model(**encoded).last_hidden_state.float()
            mask = encoded["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            for text, vector in zip(batch, pooled.numpy()):
                self._vectors[text] = vector

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.path)
            self._model = AutoModel.from_pretrained(self.path).eval()
        except (OSError, ValueError) as error:
            raise CultureBenchError(f"could not load embedding model {str(self.path)!r}: {error}") from error
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        logger.info("loaded embedding model %s", self.path)
