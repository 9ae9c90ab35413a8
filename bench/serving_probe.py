"""In-process serving costs of the champion: batch throughput and single-post latency.

Run by bench/run.py in a fresh process (HARMWATCH_HOME set to a home with a champion); prints one
JSON line. Usage: python bench/serving_probe.py N_SINGLE [BATCH_RUNS]
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
import pandas as pd

from harmwatch.config import load_settings
from harmwatch.registry import load_model_by_alias
from harmwatch.simulate import load_source


def main(n: int, batch_runs: int = 3) -> None:
    settings = load_settings()
    model = load_model_by_alias(settings, "champion")
    texts = load_source(str(settings.source_csv))["text"].tolist()
    batch = pd.DataFrame({"text": texts})
    model.predict(batch.head(100))  # warm-up
    runs = []
    for _ in range(batch_runs):
        start = time.perf_counter()
        model.predict(batch)
        runs.append(time.perf_counter() - start)
    latencies = []
    for i in np.random.default_rng(0).integers(0, len(texts), size=n + 20):
        frame = pd.DataFrame({"text": [texts[i]]})
        start = time.perf_counter()
        model.predict(frame)
        latencies.append((time.perf_counter() - start) * 1000)
    latencies = latencies[20:]  # warm-up excluded
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    print(
        json.dumps(
            {
                "batch_posts": len(texts),
                "batch_runs": batch_runs,
                "batch_median_s": statistics.median(runs),
                "batch_posts_per_s": len(texts) / statistics.median(runs),
                "in_process_ms": {
                    "p50": p50,
                    "p95": p95,
                    "p99": p99,
                    "mean": float(np.mean(latencies)),
                    "n": n,
                },
            }
        )
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
