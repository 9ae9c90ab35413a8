"""The one report writer: bench/results/README.md and targets.json from the sections' JSON records.

The report is rebuilt from the JSON files every time (sections not run now keep their last record), so
it always shows every section, each with the date and commit it was measured at. The scaling plot is
drawn here too, from the scaling section's table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.targets import TARGETS, verdicts

HEADER = (
    "The machine is shared: every figure carries the 1-minute load average seen when it was taken "
    "(2 cores, so a load above 2 means the steps waited for a CPU). Figures are medians; wall time "
    "includes the process start and imports, as a DAG task pays them."
)
SCALING_NOTE = (
    "The sizes ran one after the other under whatever load the machine had then, so a time ratio between "
    "sizes mixes data growth with load changes; the CPU time ratio is less affected."
)


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["## Targets", "", "| target | measured | limit | met | load |", "|---|---:|---:|:---:|---:|"]
    for t, v in zip(TARGETS, verdicts(results), strict=True):
        limit = f"{'>=' if t.higher_is_better else '<='} {t.limit:g} {t.unit}"
        met = {True: "yes", False: "**no**", None: "n/a"}[v["met"]]
        lines.append(f"| {t.what} | {fmt(v['value'])} {t.unit} | {limit} | {met} | {fmt(v['load1'])} |")
    errors = [e for sec in results.values() for e in sec.get("errors") or []]
    if errors:
        lines += ["", "## Failed steps", ""] + [f"- {e.splitlines()[0][:400]}" for e in errors]
    return [*lines, ""]


def steps_section(s: dict[str, Any], date: str) -> list[str]:
    lines = [
        f"## Steps on the full dataset ({s.get('date', date)}, commit {s.get('commit')})",
        "",
        "| step | runs | median wall (s) | median CPU (s) | median peak RSS (MiB) | all wall (s) | load |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    lines += [
        f"| {r['step']} | {r['runs']} | {r['median_wall_s']:.2f} | {r['median_cpu_s']:.2f} | "
        f"{r['median_peak_rss_mib']} | {', '.join(f'{w:.1f}' for w in r['all_wall_s'])} | "
        f"{r['median_load1']} |"
        for r in s["steps"]
    ]
    lines.append("")
    q = s.get("quality") or {}
    if q:
        lines += [
            "## Model quality (frozen evaluation snapshot)",
            "",
            f"Model version {q.get('model_version')}, evaluation snapshot {q.get('eval_version')} "
            f"({q.get('eval_rows')} posts); decision `{q.get('decision')}`, golden set {q.get('golden')}.",
            "",
            "| metric | value |",
            "|---|---:|",
            f"| macro-F1 | {fmt(q.get('macro_f1'), 4)} |",
            *(f"| F1 {c} | {fmt(v, 4)} |" for c, v in (q.get("per_class_f1") or {}).items()),
            f"| ECE | {fmt(q.get('ece'), 4)} |",
            f"| harmful PR-AUC | {fmt(q.get('harmful_pr_auc'), 4)} |",
            "",
        ]
    return lines


def dag_section(d: dict[str, Any]) -> list[str]:
    med = d["median"]
    lines = [
        f"## Retrain DAG through Airflow ({d['mode']}, local runner; {d['runs']} runs, "
        f"{d.get('date', '')}, commit {d.get('commit')})",
        "",
        f"End to end {med['end_to_end_s']} s; sum of the steps' own times {med['steps_s']} s; "
        f"orchestration overhead {med['overhead_s']} s = {med['overhead_pct']} % (load {med['load1']}).",
        "",
        "| task | median task (s) | median step process (s) |",
        "|---|---:|---:|",
        *(f"| {t} | {f['median_task_s']} | {f['median_step_s']} |" for t, f in d["per_task"].items()),
        "",
    ]
    for mode, other in (d.get("modes") or {}).items():
        om = other.get("median") or {}
        if om:
            lines += [
                f"Mode {mode} ({other['runs']} runs): end to end {om['end_to_end_s']} s, steps "
                f"{om['steps_s']} s, overhead {om['overhead_s']} s = {om['overhead_pct']} % "
                f"(load {om['load1']}).",
                "",
            ]
    return lines


def serving_section(s: dict[str, Any]) -> list[str]:
    lines = [
        f"## Serving the champion ({s.get('date', '')}, commit {s.get('commit')})",
        "",
        "| measure | value | load |",
        "|---|---:|---:|",
        f"| batch scoring in-process ({s['batch_posts']} posts, median of {s.get('batch_runs', 3)}) | "
        f"{s['batch_posts_per_s']:,.0f} posts/s | {s.get('load1')} |",
    ]
    for where, key in (("in-process", "in_process_ms"), ("`mlflow models serve`", "served")):
        lat = s[key]
        lines.append(
            f"| {where} single post p50 / p95 / p99 / mean (ms), n={lat['n']} | "
            f"{lat['p50']:.2f} / {lat['p95']:.2f} / {lat['p99']:.2f} / {lat['mean']:.2f} | "
            f"{lat.get('load1', s.get('load1'))} |"
        )
    return [*lines, ""]


def scaling_section(sc: dict[str, Any]) -> list[str]:
    factors = sc["factors"]
    cell = {(t["step"], t["factor"]): t for t in sc["table"]}
    head = " | ".join(f"{f}x s | {f}x MiB" for f in factors)
    lines = [
        f"## Scaling ({sc['runs_per_factor']} run(s) per size, {sc.get('date', '')}, "
        f"commit {sc.get('commit')})",
        "",
        f"| step | {head} | time growth {factors[0]}x to {factors[-1]}x | CPU time growth |",
        "|---|" + "---:|" * (2 * len(factors) + 2),
    ]
    for step in dict.fromkeys(t["step"] for t in sc["table"]):
        cells = []
        for f in factors:
            t = cell.get((step, f))
            cells += [f"{t['median_wall_s']:.1f}", str(t["median_peak_rss_mib"])] if t else ["", ""]
        first, last = cell.get((step, factors[0])), cell.get((step, factors[-1]))
        cpu = (
            last["median_cpu_s"] / first["median_cpu_s"] if first and last and first["median_cpu_s"] else None
        )
        growth = sc["time_growth_at_largest"].get(step)
        lines.append(f"| {step} | " + " | ".join(cells) + f" | {fmt(growth)}x | {fmt(cpu)}x |")
    loads = sorted({r["load1"] for r in sc["rows"]})
    return [
        *lines,
        "",
        f"Load average during the scaling runs: {min(loads)} to {max(loads)}. {SCALING_NOTE}",
        "",
        "![cost against size](scaling.png)",
        "",
    ]


def drift_section(d: dict[str, Any]) -> list[str]:
    lines = [
        f"## Drift step on real files ({d['runs']} run(s) per case, {d.get('date', '')}, "
        f"commit {d.get('commit')})",
        "",
        "`harmwatch drift --reference --current`, no sampling inside the step. tweeteval: the whole CSV "
        "against 10,000 TweetEval posts (drift); split: the CSV minus 10,000 random posts against those "
        "10,000 (no drift), both with a stand-in model's predictions. The command with and without a "
        "byte-code cache; in-process: the step's work without process start and imports.",
        "",
        "| case | reference / current posts | drift (score) | command (s) | no byte-code cache (s) "
        "| in-process read / evaluate / total (s) | peak RSS (MiB) | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in d.get("cases", {}).items():
        inproc = " / ".join(fmt(c[f"in_process_{k}_median_s"]) for k in ("read", "evaluate", "total"))
        lines.append(
            f"| {name} | {c['rows_reference']} / {c['rows_current']} | {c['drift_detected']} "
            f"({fmt(c['drift_score'], 3)}) | {fmt(c['cli_median_s'])} | "
            f"{fmt(c['cli_no_bytecode_cache_median_s'])} | {inproc} | {c['cli_median_peak_rss_mib']} | "
            f"{c['load1']} |"
        )
    return [*lines, ""]


def review_section(r: dict[str, Any]) -> list[str]:
    seeds = r.get("seeds") or [42]
    lines = [
        f"## The review loop: ordered queue against first-in-first-out ({r.get('date', '')}, "
        f"commit {r.get('commit')}, load {r.get('load1_start')} to {r.get('load1_end')})",
        "",
        f"{r['per_day']} review answers a day from simulated moderators in Label Studio, {r['days']} days, "
        "then ingest, validate and build-dataset; the classifier refitted on each day's training snapshot "
        f"(seed(s) {', '.join(map(str, seeds))}, median) and scored on the frozen evaluation snapshot.",
        "",
        "| order | labels added | macro-F1 | F1 not_cyberbullying | F1 other_cyberbullying "
        "| macro-F1 gain per 100 labels |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for order, curve in r["curves"].items():
        first, last = curve[0], curve[-1]
        lines.append(
            f"| {order} | {last['labels_added']} | {first['macro_f1']} -> {last['macro_f1']} | "
            f"{first['f1_not_cyberbullying']} -> {last['f1_not_cyberbullying']} | "
            f"{first['f1_other_cyberbullying']} -> {last['f1_other_cyberbullying']} | "
            f"{r['macro_f1_gain_per_100_labels'][order]:+.4f} |"
        )
    return [*lines, "", "![review loop](review.png)", ""]


def render(results: dict[str, Any], machine: dict[str, Any], date: str) -> str:
    """The README: machine, targets, then each section that has a record, in the CLI's order."""
    m = machine
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, Python {m['python']}, "
        f"{m['os']}. Written by `make bench` (`python -m bench`) on {date}; the code measured is "
        "given per section (commit).",
        "",
        HEADER,
        "",
        "How the misses were profiled and what was changed: [../PROFILING.md](../PROFILING.md).",
        "",
        *targets_table(results),
    ]
    if "steps" in results:
        lines += steps_section(results["steps"], date)
    if results.get("dag", {}).get("median"):
        lines += dag_section(results["dag"])
    if "serving" in results:
        lines += serving_section(results["serving"])
    if "scaling" in results:
        lines += scaling_section(results["scaling"])
    if "drift" in results:
        lines += drift_section(results["drift"])
    if "review" in results:
        lines += review_section(results["review"])
    if "adversaries" in results:
        from bench.sections.adversaries import report_lines

        lines += report_lines(results["adversaries"])
    if "incremental" in results:
        from bench.sections.incremental import report_lines as incremental_lines

        lines += incremental_lines(results["incremental"])
    if "dataplane" in results:
        from bench.sections.dataplane import report_lines as dataplane_lines

        lines += dataplane_lines(results["dataplane"])
    if "ingest" in results:
        from bench.sections.ingest import report_lines as ingest_lines

        lines += ingest_lines(results["ingest"])
    if "spark" in results and results["spark"].get("dataplane"):
        from bench.sections.spark import report_lines as spark_lines

        lines += spark_lines(results["spark"])
    if "auth" in results:
        from bench.sections.auth import report_lines as auth_lines

        lines += auth_lines(results["auth"])
    if "suite" in results:
        from bench.sections.suite import report_lines as suite_lines

        lines += suite_lines(results["suite"])
    if "fit" in results:
        from bench.sections.fit import report_lines as fit_lines

        lines += fit_lines(results["fit"])
    if "moderation" in results:
        from bench.sections.moderation import report_lines as moderation_lines

        lines += moderation_lines(results["moderation"])
    return "\n".join(lines) + "\n"


def write(folder: Path, results: dict[str, Any], machine: dict[str, Any], date: str) -> str:
    """README.md and targets.json in ``folder``; returns the README's text."""
    report = render(results, machine, date)
    (folder / "README.md").write_text(report)
    (folder / "targets.json").write_text(json.dumps(verdicts(results), indent=2) + "\n")
    return report


def plot_scaling(table: list[dict[str, Any]], out: Path) -> None:
    """Wall time and peak RSS per step against data size, log-log, with the 4 GiB memory target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.6))
    factors = sorted({t["factor"] for t in table})
    for step in dict.fromkeys(t["step"] for t in table):
        mine = sorted((t for t in table if t["step"] == step), key=lambda t: t["factor"])
        xs = [t["factor"] for t in mine]
        ax_t.plot(xs, [t["median_wall_s"] for t in mine], marker="o", label=step)
        ax_m.plot(xs, [t["median_peak_rss_mib"] for t in mine], marker="o", label=step)
    for ax, what in ((ax_t, "wall time (s)"), (ax_m, "peak RSS (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(factors, [f"{f}x" for f in factors])
        ax.set_xlabel("data size (x the 47,692-row source CSV)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    ax_m.axhline(4096, color="red", linestyle="--", linewidth=1, label="4 GiB target")
    ax_t.legend(fontsize=7, ncol=2)
    ax_m.legend(fontsize=7, ncol=2)
    fig.suptitle("harmwatch: cost of each step against data size")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_review(curves: dict[str, list[dict[str, Any]]], out: Path) -> None:
    """Macro-F1 and the two weakest classes' F1 against moderator labels added, one line per order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {"value": "ordered by expected value", "fifo": "first in, first out"}
    panels = (
        ("macro_f1", "macro-F1"),
        ("f1_not_cyberbullying", "F1 not_cyberbullying"),
        ("f1_other_cyberbullying", "F1 other_cyberbullying"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for order, curve in curves.items():
            xs = [p["labels_added"] for p in curve]
            ax.plot(xs, [p[key] for p in curve], marker="o", label=names.get(order, order))
        ax.set_title(title)
        ax.set_xlabel("moderator labels added from the review queue")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("frozen evaluation snapshot")
    axes[0].legend(fontsize=8)
    fig.suptitle("harmwatch: the review loop, simulated moderators in Label Studio (one point per day)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
