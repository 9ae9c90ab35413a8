"""The targets the benchmarks are judged by: one list, each target saying where its figure comes from.

A target names the figure (``value``) and the load average it was taken under (``load``) as functions of
the results (``{section: that section's JSON record}``), so adding a target is one entry here and the
report, ``targets.json`` and the verdicts follow. A figure whose section has not run yet is None.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, Any]
Getter = Callable[[Results], float | None]


@dataclass(frozen=True)
class Target:
    """A limit on one figure; ``value`` and ``load`` read the figure and its load from the results."""

    key: str
    what: str
    limit: float
    unit: str
    section: str
    value: Getter
    load: Getter
    higher_is_better: bool = False

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.limit if self.higher_is_better else value <= self.limit

    def verdict(self, results: Results) -> dict[str, Any]:
        """The record of targets.json: the figure, the limit, whether it is met, under what load."""
        value = self.value(results)
        return {
            "key": self.key,
            "what": self.what,
            "value": value,
            "target": self.limit,
            "unit": self.unit,
            "met": self.met(value),
            "load1": self.load(results),
        }


def at(section: str, *path: str) -> Getter:
    """``results[section][path[0]][path[1]]...``, None where any part is missing."""

    def get(results: Results) -> float | None:
        node: Any = results.get(section, {})
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    return get


def step(name: str, figure: str) -> Getter:
    """A figure of one step in the steps section's medians (``median_wall_s``, ``median_load1``)."""

    def get(results: Results) -> float | None:
        rows = {s["step"]: s for s in results.get("steps", {}).get("steps", [])}
        return rows[name][figure] if name in rows else None

    return get


def largest_size_load(results: Results) -> float | None:
    """Median load average over the scaling records of the largest size."""
    scaling = results.get("scaling", {})
    top = max(scaling.get("factors", [0]))
    loads = [r["load1"] for r in scaling.get("rows", []) if r["factor"] == top]
    return statistics.median(loads) if loads else None


DAG_LOAD = at("dag", "median", "load1")
SERVING_LOAD = at("serving", "load1")

# fmt: off
TARGETS: list[Target] = [
    Target("dag_end_to_end_s", "retrain DAG end to end", 90.0, "s", "dag",
           at("dag", "median", "end_to_end_s"), DAG_LOAD),
    Target("dag_overhead_pct", "orchestration overhead", 20.0, "%", "dag",
           at("dag", "median", "overhead_pct"), DAG_LOAD),
    Target("train_s", "train (day 2, whole dataset)", 15.0, "s", "steps",
           step("train (day 2)", "median_wall_s"), step("train (day 2)", "median_load1")),
    Target("validate_s", "validate (bulk)", 5.0, "s", "steps",
           step("validate (bulk)", "median_wall_s"), step("validate (bulk)", "median_load1")),
    Target("build_dataset_s", "build-dataset with the defences (day 2, whole dataset)", 10.0, "s", "steps",
           step("build-dataset (day 2, defences)", "median_wall_s"),
           step("build-dataset (day 2, defences)", "median_load1")),
    Target("drift_s", "drift (day 2)", 15.0, "s", "steps",
           step("drift (day 2)", "median_wall_s"), step("drift (day 2)", "median_load1")),
    Target("batch_posts_per_s", "batch scoring, in-process (one process)", 10_000.0, "posts/s", "serving",
           at("serving", "batch_posts_per_s"), SERVING_LOAD, higher_is_better=True),
    Target("score_posts_per_s", "batch scoring, `harmwatch score` (one worker per CPU)", 10_000.0, "posts/s",
           "steps", at("steps", "score_posts_per_s"), step("score (bulk, champion)", "median_load1"),
           higher_is_better=True),
    Target("in_process_p99_ms", "in-process single post p99", 5.0, "ms", "serving",
           at("serving", "in_process_ms", "p99"), SERVING_LOAD),
    Target("served_p99_ms", "served single post p99", 50.0, "ms", "serving",
           at("serving", "served", "p99"), at("serving", "served", "load1")),
    Target("scaling_max_time_growth", "16x: largest step time growth", 20.0, "x", "scaling",
           at("scaling", "max_time_growth"), largest_size_load),
    Target("scaling_max_rss_mib", "16x: largest peak RSS", 4096.0, "MiB", "scaling",
           at("scaling", "max_peak_rss_mib"), largest_size_load),
    Target("incremental_day_ratio", "build-dataset --incremental: day at 90 / day at 7 days of history, CPU",
           1.5, "x", "incremental", at("incremental", "cpu_ratio_longest_to_shortest"),
           at("incremental", "load1_end")),
    Target("dataplane_16x_cpu_s", "16x: validate + build-dataset (SQL on DuckDB), CPU", 40.0, "CPU-s",
           "dataplane", at("dataplane", "sizes", "16", "cpu_s"), at("dataplane", "sizes", "16", "load1")),
    Target("dataplane_16x_rss_mib", "16x: validate + build-dataset (SQL on DuckDB), peak RSS", 2048.0, "MiB",
           "dataplane", at("dataplane", "sizes", "16", "peak_rss_mib"),
           at("dataplane", "sizes", "16", "load1")),
    Target("dataplane_64x_rss_mib", "64x: validate + build-dataset (SQL on DuckDB), peak RSS", 4096.0, "MiB",
           "dataplane", at("dataplane", "sizes", "64", "peak_rss_mib"),
           at("dataplane", "sizes", "64", "load1")),
    Target("fit_cpu_ratio", "fit of the default recipe / the baseline recipe (whole source), CPU", 1.5, "x",
           "fit", at("fit", "default_ratio"), at("fit", "load1")),
    Target("spark_16x_cpu_ratio", "16x: validate + build-dataset, Spark `local[2]` / DuckDB, CPU", 3.0, "x",
           "spark", at("spark", "dataplane", "sizes", "16", "spark_to_embedded_cpu"),
           at("spark", "dataplane", "sizes", "16", "spark", "load1")),
]
# fmt: on


def verdicts(results: Results) -> list[dict[str, Any]]:
    """Every target's record, in the list's order (the report's table, targets.json)."""
    return [t.verdict(results) for t in TARGETS]
