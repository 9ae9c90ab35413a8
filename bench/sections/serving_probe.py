"""In-process serving costs of the champion: batch throughput and single-post latency.

Run by the serving section in a fresh process, so the figures are not coloured by what the benchmark
itself has imported or allocated (HARMWATCH_HOME set to a home with a champion); prints one JSON line.

    python -m bench.sections.serving_probe N_SINGLE [BATCH_RUNS]
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
import pandas as pd

from harmwatch.config import configure_libraries, load_settings
from harmwatch.data.simulation import load_source
from harmwatch.registry import load_model_version

WARM_UP = 20  # single-post calls left out of the figures (first calls fill caches)


def probe(n: int, batch_runs: int = 3) -> dict[str, object]:
    """Batch: every post of the source in one ``predict``, median of ``batch_runs``. Single post:
    ``n`` calls on posts drawn at random (seed 0, as the served measurement draws them)."""
    settings = load_settings()
    configure_libraries(settings)
    model, _version = load_model_version(settings, "champion")
    texts = load_source(str(settings.source_csv))["text"].tolist()
    batch = pd.DataFrame({"text": texts})
    model.predict(batch.head(100))  # warm-up
    runs = []
    for _ in range(batch_runs):
        start = time.perf_counter()
        model.predict(batch)
        runs.append(time.perf_counter() - start)
    latencies = []
    for i in np.random.default_rng(0).integers(0, len(texts), size=n + WARM_UP):
        frame = pd.DataFrame({"text": [texts[i]]})
        start = time.perf_counter()
        model.predict(frame)
        latencies.append((time.perf_counter() - start) * 1000)
    latencies = latencies[WARM_UP:]
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return {
        "batch_posts": len(texts),
        "batch_runs": batch_runs,
        "batch_median_s": statistics.median(runs),
        "batch_posts_per_s": len(texts) / statistics.median(runs),
        "in_process_ms": {
            "p50": float(p50),
            "p95": float(p95),
            "p99": float(p99),
            "mean": float(np.mean(latencies)),
            "n": n,
        },
    }


if __name__ == "__main__":
    print(json.dumps(probe(*(int(a) for a in sys.argv[1:3]))))
