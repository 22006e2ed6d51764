#!/usr/bin/env python3
"""Writes reference vectors made by sentence-transformers (the reference implementation of
all-MiniLM-L6-v2) for a few sentences, so the Rust embedder can be checked against them.

    python3 -m venv /var/tmp/st-venv && /var/tmp/st-venv/bin/pip install sentence-transformers
    HF_HUB_OFFLINE=1 /var/tmp/st-venv/bin/python scripts/reference-vectors.py \
        ../shared/models/all-MiniLM-L6-v2 > tests/fixtures/minilm_reference.json
"""
import json
import sys

import sentence_transformers
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "CORE-12 [Bug] Login fails with a 500 after the session expires",
    "Status: In Progress",
    "acme/web#341 [Pull request] Fix race in the job scheduler's claim query",
    "A much longer description: when the user signs in with single sign-on and the identity "
    "provider answers slowly, the callback times out, the session cookie is never written "
    "and the user lands on the sign-in page again without any message. " * 8,
    "Ünïcödé, emoji 🚀 and CJK 漢字 in one line",
    "",
]

model = SentenceTransformer(sys.argv[1], device="cpu")
vectors = model.encode(SENTENCES, normalize_embeddings=True)
json.dump(
    {
        "made_with": f"sentence-transformers {sentence_transformers.__version__}",
        "sentences": SENTENCES,
        "vectors": [[round(float(x), 7) for x in v] for v in vectors],
    },
    sys.stdout,
)
