"""The README is a front door and the docs cannot go stale.

- The README stays short (at most 250 lines) and links every page in ``docs/``; every page starts with
  what a reader can do with it.
- Every relative link in the README and the docs points at a file that exists (and a heading, for an
  ``#anchor``).
- Counts and figures are tagged where they stand, ``<!-- fig:NAME -->value<!-- /fig -->`` (the tags do
  not render), and each tagged value must equal what the code or the benchmark results say now:
  a count of DAGs, commands, identity groups or golden posts, or a figure of ``bench/results/``.
- The README's DAG table lists exactly the DAGs in ``dags/``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS, REPO / "bench" / "PROFILING.md", REPO / "bench" / "results" / "README.md"]

LINK = re.compile(r"\]\(([^)\s]+)\)")
FIGURE = re.compile(r"<!-- fig:([a-z0-9_]+) -->(.*?)<!-- /fig -->")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def dag_ids() -> set[str]:
    ids = set()
    for path in (REPO / "dags").glob("harmful_content_*.py"):
        ids |= set(re.findall(r'dag_id\s*=\s*"([a-z_]+)"', path.read_text()))
    return ids


def commands() -> list[str]:
    tree = ast.parse((REPO / "jobs" / "harmwatch" / "steps" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMMANDS":
            return [key.value for key in node.value.keys]  # type: ignore[union-attr]
    raise AssertionError("COMMANDS not found in jobs/harmwatch/steps/__init__.py")


def bench_target(key: str) -> Callable[[], str]:
    def value() -> str:
        records = json.loads((REPO / "bench" / "results" / "targets.json").read_text())
        record = next(r for r in records if r["key"] == key)
        if isinstance(record["value"], int):  # a count (MiB of a peak)
            return f"{record['value']:,} {record['unit']}"
        return f"{record['value']:,.1f} {record['unit']}"

    return value


def bench_auth(key: str, cached: bool) -> Callable[[], str]:
    """A retrain figure of the ``auth`` section: the run with harmwatch's credential cache or without."""

    def value() -> str:
        runs = json.loads((REPO / "bench" / "results" / "auth.json").read_text())["auth"]["runs"]
        run = next(r for r in runs if (r.get("cache_seconds", 0) > 0) == cached and key in r)
        return f"{run[key]:,}" if isinstance(run[key], int) else f"{run[key]:,.1f} s"

    return value


def bench_incremental(mode: str, history: int | None) -> Callable[[], str]:
    """A figure of the ``incremental`` section: the day's CPU-s after ``history`` days (``mode``
    incremental or full), or with ``history`` None the ratio of the longest history's day to the
    shortest's."""

    def value() -> str:
        section = json.loads((REPO / "bench" / "results" / "incremental.json").read_text())["incremental"]
        if history is None:
            return f"{section['cpu_ratio_longest_to_shortest']:.2f}x"
        row = next(r for r in section["table"] if r["mode"] == mode and r["history_days"] == history)
        return f"{row['cpu_s']:.2f} CPU-s"

    return value


def bench_fit(recipe: str | None) -> Callable[[], str]:
    """A figure of the ``fit`` section: a recipe's median fit CPU-s, or with ``recipe`` None the default
    recipe's median against the baseline's."""

    def value() -> str:
        section = json.loads((REPO / "bench" / "results" / "fit.json").read_text())["fit"]
        if recipe is None:
            return f"{section['default_ratio']:.2f}x"
        return f"{section['recipes'][recipe]['median_cpu_s']:.1f} CPU-s"

    return value


def golden_count() -> str:
    from harmwatch.model.golden import golden_frame

    return str(len(golden_frame()))


def fairness_counts() -> tuple[int, int]:
    from harmwatch.model import fairness

    groups = sum(len(members) for members in fairness.GROUPS.values())
    return groups, len(fairness.templates())


def augmentation_rows() -> int:
    """Template rows the default recipe trains on."""
    from harmwatch.model.augmentation import template_rows
    from harmwatch.model.fitting import DEFAULT_RECIPE, RECIPES

    return len(template_rows(RECIPES[DEFAULT_RECIPE].second_round))


def augmentation_groups() -> int:
    from harmwatch.model.augmentation_sources.templates import GROUPS

    return len(GROUPS)


def spark_plane() -> dict:
    """The ``spark`` section's comparison of the two engines (validate + build-dataset per size)."""
    return json.loads((REPO / "bench" / "results" / "spark.json").read_text())["spark"]["dataplane"]


def plane_cost(engine: str, step: str, what: str) -> Callable[[], str]:
    """A fixed (CPU-s) or per-million-rows (CPU-s) cost of ``step`` on ``engine``, from the sizes measured."""

    def value() -> str:
        from bench.sections.spark import fixed_and_marginal

        cost = fixed_and_marginal(spark_plane()["sizes"])[engine][step]
        return f"{cost['fixed_cpu_s' if what == 'fixed' else 'cpu_s_per_million_rows']:,.1f}"

    return value


def plane_size(factor: str, what: str) -> Callable[[], str]:
    """Both steps at one size: CPU-s per engine, or Spark's CPU over DuckDB's."""

    def value() -> str:
        size = spark_plane()["sizes"][factor]
        if what == "ratio":
            return f"{size['spark_to_embedded_cpu']:.1f}x"
        return f"{size[what]['cpu_s']:,.1f} CPU-s"

    return value


FIGURES: dict[str, Callable[[], str]] = {
    "plane_duckdb_validate_fixed": plane_cost("duckdb", "validate", "fixed"),
    "plane_duckdb_validate_per_million": plane_cost("duckdb", "validate", "per_million"),
    "plane_duckdb_build_dataset_fixed": plane_cost("duckdb", "build-dataset", "fixed"),
    "plane_duckdb_build_dataset_per_million": plane_cost("duckdb", "build-dataset", "per_million"),
    "plane_spark_validate_fixed": plane_cost("spark", "validate", "fixed"),
    "plane_spark_validate_per_million": plane_cost("spark", "validate", "per_million"),
    "plane_spark_build_dataset_fixed": plane_cost("spark", "build-dataset", "fixed"),
    "plane_spark_build_dataset_per_million": plane_cost("spark", "build-dataset", "per_million"),
    "dataplane_16x_cpu": bench_target("dataplane_16x_cpu_s"),
    "plane_largest_duckdb": plane_size("16", "duckdb"),
    "plane_largest_spark": plane_size("16", "spark"),
    "plane_largest_ratio": plane_size("16", "ratio"),
    "dags": lambda: str(len(dag_ids())),
    "commands": lambda: str(len(commands())),
    "golden_posts": golden_count,
    "identity_groups": lambda: str(fairness_counts()[0]),
    "fairness_templates": lambda: str(fairness_counts()[1]),
    "augmentation_rows": lambda: f"{augmentation_rows():,}",
    "augmentation_groups": lambda: str(augmentation_groups()),
    "dag_end_to_end": bench_target("dag_end_to_end_s"),
    "train_time": bench_target("train_s"),
    "dataplane_16x_peak": bench_target("dataplane_16x_rss_mib"),
    "dataplane_64x_peak": bench_target("dataplane_64x_rss_mib"),
    "retrain_mlflow_requests": bench_auth("retrain_requests", cached=True),
    "retrain_mlflow_cpu_uncached": bench_auth("retrain_server_cpu_s", cached=False),
    "retrain_mlflow_cpu_cached": bench_auth("retrain_server_cpu_s", cached=True),
    "incremental_day_7": bench_incremental("incremental", 7),
    "incremental_day_90": bench_incremental("incremental", 90),
    "full_day_7": bench_incremental("full", 7),
    "full_day_90": bench_incremental("full", 90),
    "incremental_ratio": bench_incremental("incremental", None),
    "fit_ratio": bench_fit(None),
    "fit_baseline": bench_fit("baseline"),
    "fit_moderate": bench_fit("moderate"),
    "fit_candidate": bench_fit("candidate"),
}


def test_readme_is_short_and_links_every_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250, "README.md is over 250 lines: move details to docs/"
    linked = {target.split("#")[0] for target in LINK.findall(text)}
    missing = [f"docs/{page.name}" for page in DOCS if f"docs/{page.name}" not in linked]
    assert not missing, f"README.md does not link {missing}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_page_says_what_a_reader_can_do(page: Path) -> None:
    lines = [line for line in page.read_text().splitlines() if line.strip()]
    assert lines[0].startswith("# "), f"{page.name} starts without a title"
    assert lines[1].startswith(("Read this", "This guide")), (
        f"{page.name}: the line after the title should say what a reader can do with the page"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)} links to missing files or headings: {broken}"


def test_tagged_figures_are_current() -> None:
    stale, seen = [], set()
    for page in PAGES:
        for name, shown in FIGURE.findall(page.read_text()):
            assert name in FIGURES, f"{page.name}: unknown figure {name!r} (add it to FIGURES)"
            seen.add(name)
            actual = FIGURES[name]()
            if shown != actual:
                stale.append(f"{page.relative_to(REPO)}: {name} says {shown!r}, now {actual!r}")
    assert not stale, "stale figures:\n" + "\n".join(stale)
    assert {"dags", "commands"} <= seen, "the README should state the DAG and command counts as figures"


def test_readme_dag_table_lists_every_dag() -> None:
    listed = set(re.findall(r"^\| `(harmful_content_[a-z_]+)` \|", README.read_text(), flags=re.M))
    assert listed == dag_ids()
