"""Section ``spark``: validate and build-dataset on Spark next to the embedded engine at 1x/4x/16x; then
the data steps on both engines at 1x/16x/64x, training under the row budget, the budget's quality cost,
and scoring throughput through Spark next to ``harmwatch score``.

The comparison (:func:`dataplane`) lands each size once, ingests it once, and runs validate plus
build-dataset on a copy of that lake per engine (``duckdb``, then Spark ``local[2]``), so both engines
read the same rows under the same load; CPU-seconds of the whole process tree (Spark's JVM and Python
workers included) and its peak memory. ``--spark-factors`` with no value runs the comparison only.

Memory here is the peak *sum* of the RSS of the step's whole process tree (the step, Spark's JVM and its
Python workers), sampled every 0.2 s: ``ru_maxrss`` (bench.core) is the largest single process, which
would hide the JVM beside the driver. The grown data (``scaling.grow_source``) lands as files of at most
50,000 records, as a real feed lands many files a day (one landing file is one Spark task).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.core import BIN, BULK, Options, StepFailed, load1, step_env
from bench.sections.scaling import grow_source
from harmwatch.cli import parse_summary

FILE_ROWS = 50_000
DATA_STEPS = ("ingest", "validate", "build-dataset")
BUDGETS = (5_000, 10_000, 20_000, 0)  # 0: no budget (the whole snapshot, ~40k rows at 1x)


def run_tree(step: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One step in its own process; wall time, CPU of the tree, peak summed RSS of the tree."""
    import psutil

    load, start, peak, cpu = load1(), time.perf_counter(), 0, {}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([str(BIN / "harmwatch"), step, *args], env=env, stdout=out, stderr=err)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
                for p in tree:  # CPU of every process seen (a process's last sample counts)
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
            except psutil.Error:
                pass
            time.sleep(0.2)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise StepFailed(f"`harmwatch {step} {' '.join(args)}` failed: {stderr.strip()[-600:]}")
    return {
        "step": step,
        "wall_s": round(wall, 2),
        "cpu_s": round(sum(cpu.values()), 1),
        "peak_tree_rss_mib": round(peak / 2**20),
        "load1": load,
        "summary": parse_summary(stdout),
    }


def split_landing(landing: Path) -> None:
    """Rewrite each landed CSV as files of at most FILE_ROWS records (quoted newlines kept)."""
    for path in sorted(landing.glob("labelled/dt=*/*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        header, body = rows[0], rows[1:]
        if len(body) <= FILE_ROWS:
            continue
        for n, i in enumerate(range(0, len(body), FILE_ROWS)):
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(body[i : i + FILE_ROWS])
            path.with_name(f"{path.stem}-{n:04d}.csv").write_text(buf.getvalue(), encoding="utf-8")
        path.unlink()


def landed(source: Path, factor: int, tmp: Path) -> Path:
    """A landing zone simulated from ``factor`` copies of the dataset (bulk day + one day)."""
    grown = grow_source(source, factor, tmp / f"x{factor}.csv") if factor > 1 else source
    home = tmp / f"sim-x{factor}"
    env = step_env(home, grown)
    proc = subprocess.run(
        [str(BIN / "harmwatch"), "simulate", "--start", BULK, "--days", "1"],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise StepFailed(f"simulate x{factor}: {proc.stderr[-400:]}")
    split_landing(home / "landing")
    if grown != source:
        grown.unlink()
    return home / "landing"


def data_steps(landing: Path, engine: str, home: Path, extra: dict[str, str]) -> list[dict[str, Any]]:
    env = {**step_env(home, landing), "HARMWATCH_LANDING_URI": str(landing), **extra}
    out = []
    for step in DATA_STEPS:
        rec = run_tree(step, ["--engine", engine], env)
        out.append(rec)
        print(
            f"  {engine:<6} {step:<14} {rec['wall_s']:8.1f} s "
            f"{rec['peak_tree_rss_mib']:6d} MiB load {rec['load1']}",
            flush=True,
        )
    return out


PLANE_STEPS = ("validate", "build-dataset")
PLANE_ENGINES = ("duckdb", "spark")


def plane_size(source: Path, factor: int, tmp: Path) -> dict[str, Any]:
    """validate + build-dataset per engine at ``factor``, each on its own copy of one ingested lake."""
    landing = landed(source, factor, tmp)
    ingested = tmp / f"ingested-x{factor}"
    run_tree("ingest", [], {**step_env(ingested, landing), "HARMWATCH_LANDING_URI": str(landing)})
    engines: dict[str, Any] = {}
    for engine in PLANE_ENGINES:
        home = tmp / f"{engine}-x{factor}"
        shutil.copytree(ingested, home)
        env = {**step_env(home, landing), "HARMWATCH_LANDING_URI": str(landing)}
        steps = {}
        for step in PLANE_STEPS:
            rec = run_tree(step, ["--engine", engine], env)
            summary = rec.pop("summary") or {}
            steps[step] = {**rec, "rows": summary.get("rows_in") or summary.get("rows_train")}
            print(
                f"  {factor:>3}x {engine:<6} {step:<14} {rec['cpu_s']:7.1f} CPU-s "
                f"{rec['peak_tree_rss_mib']:6d} MiB load {rec['load1']}",
                flush=True,
            )
        engines[engine] = {
            "cpu_s": round(sum(r["cpu_s"] for r in steps.values()), 1),
            "peak_rss_mib": max(r["peak_tree_rss_mib"] for r in steps.values()),
            "load1": max(r["load1"] for r in steps.values()),
            "steps": steps,
        }
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(ingested, ignore_errors=True)
    shutil.rmtree(landing.parent, ignore_errors=True)
    engines["spark_to_embedded_cpu"] = round(engines["spark"]["cpu_s"] / engines["duckdb"]["cpu_s"], 2)
    return engines


def dataplane(opts: Options, save: Any) -> dict[str, Any]:
    """The comparison at each of ``opts.dataplane_factors``, saved after every size."""
    out: dict[str, Any] = {"factors": sorted(opts.dataplane_factors), "sizes": {}, "errors": []}
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-sparkplane-"))
    try:
        for factor in sorted(opts.dataplane_factors):
            print(f"spark section: {factor}x, validate + build-dataset on duckdb and spark", flush=True)
            try:
                out["sizes"][str(factor)] = plane_size(opts.source, factor, tmp)
            except StepFailed as exc:
                out["errors"].append(f"{factor}x: {exc}")
                print(f"  FAILED: {exc}", flush=True)
            save(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["costs"] = fixed_and_marginal(out["sizes"])
    return out


def fixed_and_marginal(sizes: dict[str, Any]) -> dict[str, Any]:
    """Per engine and step: the CPU a run costs before its first row (fixed) and per million rows of
    input (marginal: the rows validated at that size, which build-dataset reads), from the line through
    the smallest and the largest size measured."""
    done = {f: size for f, size in sizes.items() if "spark" in size and "duckdb" in size}
    if len(done) < 2:
        return {}
    small, large = done[min(done, key=int)], done[max(done, key=int)]
    costs: dict[str, Any] = {}
    for engine in PLANE_ENGINES:
        rows_a = small[engine]["steps"]["validate"]["rows"] or 0
        rows_b = large[engine]["steps"]["validate"]["rows"] or 0
        if rows_b <= rows_a:
            continue
        for step in PLANE_STEPS:
            cpu_a, cpu_b = small[engine]["steps"][step]["cpu_s"], large[engine]["steps"][step]["cpu_s"]
            per_row = (cpu_b - cpu_a) / (rows_b - rows_a)
            costs.setdefault(engine, {})[step] = {
                "fixed_cpu_s": round(cpu_a - per_row * rows_a, 1),
                "cpu_s_per_million_rows": round(per_row * 1e6, 1),
                "rows": [rows_a, rows_b],
            }
    return costs


def run(opts: Options) -> dict[str, Any]:
    """The Spark-to-embedded comparison first (:func:`dataplane`); then the smallest size first on both
    engines (then the budget and scoring figures, on its home), the largest size on Spark, the sizes
    between. Progress is saved after every record (``spark.partial.json``), so a run cut short by its
    time limit still leaves its figures."""
    import json

    factors = sorted(opts.spark_factors)
    order = [factors[0], *factors[:0:-1]] if len(factors) > 1 else factors
    local_upto = 16  # one process is measured up to here (at 64x it is what Spark replaces)
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-spark-"))
    results: dict[str, Any] = {
        "factors": factors,
        "file_rows": FILE_ROWS,
        "data": [],
        "train": [],
        "errors": [],
    }

    def save() -> None:
        (opts.results / "spark.partial.json").write_text(json.dumps(results, indent=1, default=str))

    def save_plane(plane: dict[str, Any]) -> None:
        results["dataplane"] = plane
        save()

    results["dataplane"] = dataplane(opts, save_plane)
    try:
        for factor in order:
            landing = landed(opts.source, factor, tmp)
            for engine in ("spark", "duckdb"):
                if engine == "duckdb" and factor > local_upto:
                    continue
                home = tmp / f"{engine}-x{factor}"
                print(f"spark section: {factor}x, {engine}", flush=True)
                try:
                    for rec in data_steps(landing, engine, home, {}):
                        results["data"].append({**rec, "factor": factor, "engine": engine})
                        save()
                    if engine == "spark" and factor > 1:  # training within the row budget, then scoring
                        env = step_env(home, landing)
                        rec = run_tree("train", ["--n-jobs", "2"], env)
                        results["train"].append({**rec, "factor": factor})
                        save()
                        print(f"  train {rec['wall_s']:.1f} s {rec['peak_tree_rss_mib']} MiB", flush=True)
                        results.setdefault("scoring_grown", []).append(
                            {"factor": factor, **scoring(home, landing)}
                        )
                        save()
                except StepFailed as exc:
                    results["errors"].append(f"{factor}x {engine}: {exc}")
                    print(f"  FAILED: {exc}", flush=True)
                if not (engine == "spark" and factor == 1):
                    shutil.rmtree(home, ignore_errors=True)
            if factor == 1:  # the budget's quality cost and scoring are measured on the real dataset
                results["budget"] = budget_quality(tmp / f"spark-x{factor}", opts.source)
                save()
                results["scoring"] = scoring(tmp / f"spark-x{factor}", opts.source)
                save()
            else:
                shutil.rmtree(landing.parent, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def budget_quality(home: Path, source: Path) -> list[dict[str, Any]]:
    """Macro-F1 on the frozen evaluation snapshot when training under each row budget (1x data)."""
    out = []
    for budget in BUDGETS:
        env = {**step_env(home, source), "HARMWATCH_TRAIN_ROW_BUDGET": str(budget)}
        try:
            rec = run_tree("train", ["--n-jobs", "2", "--retrain"], env)
        except StepFailed as exc:
            out.append({"budget": budget, "error": str(exc)})
            continue
        s = rec["summary"]
        out.append(
            {
                "budget": budget,
                "rows_train": s["rows_train"],
                "macro_f1": s["macro_f1"],
                "wall_s": rec["wall_s"],
                "peak_tree_rss_mib": rec["peak_tree_rss_mib"],
                "load1": rec["load1"],
            }
        )
        print(f"  budget {budget}: {s['rows_train']} rows, macro-F1 {s['macro_f1']}", flush=True)
    return out


def scoring(home: Path, source: Path) -> dict[str, Any]:
    """Posts per second through Spark (predict, local[2]) and through ``harmwatch score`` (2 workers)."""
    env = step_env(home, source)
    subprocess.run(
        [str(BIN / "harmwatch"), "promote", "--force", "--reason", "benchmark: a champion to score with"],
        env=env,
        capture_output=True,
        check=True,
    )
    pred = run_tree("predict", ["--date", BULK, "--no-shadow"], env)
    posts = home / "bulk-posts.parquet"
    import pandas as pd

    lake = home / "lake"
    frames = [pd.read_parquet(p) for p in sorted((lake / "validated" / "labelled").glob("run=*/*.parquet"))]
    texts = pd.concat(frames)
    texts[texts["batch_dt"] == BULK].drop_duplicates("post_id")[["post_id", "text"]].to_parquet(posts)
    score = run_tree(
        "score", ["--input", str(posts), "--output", str(home / "scored.parquet"), "--workers", "2"], env
    )
    rows = pred["summary"]["rows"]
    return {
        "rows": rows,
        "predict_wall_s": pred["wall_s"],
        "predict_posts_per_s_wall": round(rows / pred["wall_s"]),
        "predict_peak_tree_rss_mib": pred["peak_tree_rss_mib"],
        "predict_load1": pred["load1"],
        "score_wall_s": score["wall_s"],
        "score_posts_per_s": score["summary"]["posts_per_second"],
        "score_rows": score["summary"]["rows"],
        "score_load1": score["load1"],
    }


def report_lines(d: dict[str, Any]) -> list[str]:
    """The comparison in the report: one row per size and step, both engines side by side."""
    plane = d.get("dataplane") or {}
    lines = [
        "",
        "## Data plane on Spark: validate and build-dataset, Spark `local[2]` next to DuckDB",
        "",
        f"Measured {d.get('date', '')}, commit {d.get('commit', '')}: the same ingested lake per size, "
        "CPU-seconds of the whole process tree (Spark's JVM and Python workers included), peak summed RSS.",
        "",
        "| size | step | DuckDB CPU-s | DuckDB MiB | Spark CPU-s | Spark MiB | Spark / DuckDB | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for factor, size in plane.get("sizes", {}).items():
        duck, spark = size["duckdb"], size["spark"]
        for step in PLANE_STEPS:
            a, b = duck["steps"][step], spark["steps"][step]
            lines.append(
                f"| {factor}x | {step} | {a['cpu_s']} | {a['peak_tree_rss_mib']} | {b['cpu_s']} | "
                f"{b['peak_tree_rss_mib']} | {b['cpu_s'] / a['cpu_s']:.1f}x | {max(a['load1'], b['load1'])} |"
            )
        lines.append(
            f"| {factor}x | **both** | **{duck['cpu_s']}** | **{duck['peak_rss_mib']}** | "
            f"**{spark['cpu_s']}** | **{spark['peak_rss_mib']}** | **{size['spark_to_embedded_cpu']}x** | |"
        )
    costs = fixed_and_marginal(plane.get("sizes", {}))
    if costs:
        lines += ["", "| engine | step | fixed CPU-s | CPU-s per million rows |", "|---|---|---:|---:|"]
        for engine, steps in costs.items():
            for step, c in steps.items():
                lines.append(f"| {engine} | {step} | {c['fixed_cpu_s']} | {c['cpu_s_per_million_rows']} |")
    return [*lines, *(f"- error: {e}" for e in plane.get("errors", [])), ""]
