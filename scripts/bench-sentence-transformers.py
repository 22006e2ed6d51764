#!/usr/bin/env python3
"""Times sentence-transformers (PyTorch, CPU) embedding the texts in a JSON file (a list of
strings) with the model in a directory; prints {"texts": N, "seconds": S} as JSON. Used by
`cargo bench --bench embedding` as the reference to compare the local embedder with.

    HF_HUB_OFFLINE=1 /var/tmp/st-venv/bin/python scripts/bench-sentence-transformers.py MODEL_DIR TEXTS.json
"""
import json
import sys
import time

from sentence_transformers import SentenceTransformer

model = SentenceTransformer(sys.argv[1], device="cpu")
texts = json.load(open(sys.argv[2]))
model.encode(texts[:32], batch_size=32)  # warm-up, as the Rust side loads before timing
started = time.perf_counter()
model.encode(texts, batch_size=32, normalize_embeddings=True)
print(json.dumps({"texts": len(texts), "seconds": time.perf_counter() - started}))
