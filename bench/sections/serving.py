"""Section ``serving``: what answering with the champion costs, in-process and behind a server.

A fresh home runs the bulk-day chain to get a champion. In-process (bench/sections/serving_probe.py, in
its own process): batch scoring throughput of one process, and single-post latency. Served: ``mlflow
models serve`` of the champion on 127.0.0.1 with one worker, single-post requests over HTTP; the
difference to in-process is what the server adds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.core import BIN, ROOT, Options, free_port, fresh_home, load1, run_step
from bench.sections.steps import CHAIN
from devstack import airflow as af
from harmwatch.cli import parse_summary

WARM_UP = 20  # requests left out of the figures
START_TIMEOUT = 180  # seconds for mlflow models serve to answer /ping


def run(opts: Options) -> dict[str, Any]:
    """In-process probe, then the served latency, on one home with a champion."""
    with fresh_home(opts.source) as (_home, env):
        for step, phase, args in CHAIN:
            run_step(step, args, env, phase)
        load = load1()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.sections.serving_probe", str(opts.requests), str(opts.repeats)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"serving probe failed: {proc.stderr.strip()[-800:]}")
        result = {**parse_summary(proc.stdout), "load1": load}
        print(f"serving: in-process {json.dumps(result)[:300]}", flush=True)
        result["served"] = served(env, opts.requests, sample_texts(opts.source, opts.requests + WARM_UP))
        print(f"serving: served {result['served']}", flush=True)
        return result


def sample_texts(source: Path, n: int) -> list[str]:
    """``n`` posts of the dataset drawn at random (seed 0), as the in-process probe draws them."""
    import numpy as np
    import pandas as pd

    texts = pd.read_csv(source, dtype=str, keep_default_na=False)["tweet_text"].tolist()
    return [texts[i] for i in np.random.default_rng(0).integers(0, len(texts), size=n)]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=2).read()
            return
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve did not start: {log.read_text()[-800:]}") from None
            time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    """The server and the workers it started: their own session, so their process group."""
    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=30)


def served(env: dict[str, str], n: int, texts: list[str]) -> dict[str, Any]:
    """`mlflow models serve` of the champion on 127.0.0.1; latency of ``n`` single-post requests."""
    import numpy as np

    port = free_port()
    settings = af.settings(env)
    serve_env = {
        **env,
        "MLFLOW_TRACKING_URI": settings["mlflow_tracking_uri"],
        "MLFLOW_REGISTRY_URI": settings["mlflow_registry_uri"],
        # mlflow starts `uvicorn` by name: the virtual environment's bin must be on PATH
        "PATH": os.pathsep.join([str(BIN), env.get("PATH", "")]),
    }
    model = f"models:/{settings['model_name']}@champion"
    command = [str(BIN / "mlflow"), "models", "serve", "-m", model, "-h", "127.0.0.1", "-p", str(port)]
    log = Path(env["HARMWATCH_HOME"]) / "serve.log"
    started = time.perf_counter()
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(
            [*command, "--env-manager", "local", "-w", "1"],
            env=serve_env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc, log)
        ready_s = time.perf_counter() - started
        load = load1()
        lat = []
        for i in range(n + WARM_UP):
            body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[texts[i % len(texts)]]]}})
            req = urllib.request.Request(
                f"{url}/invocations", data=body.encode(), headers={"Content-Type": "application/json"}
            )
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=10) as resp:
                resp.read()
            if i >= WARM_UP:
                lat.append((time.perf_counter() - t) * 1000)
        q = np.percentile(lat, [50, 95, 99])
        return {
            "p50": round(float(q[0]), 2),
            "p95": round(float(q[1]), 2),
            "p99": round(float(q[2]), 2),
            "mean": round(float(np.mean(lat)), 2),
            "n": n,
            "startup_s": round(ready_s, 1),
            "load1": load,
        }
    finally:
        _stop(proc)
