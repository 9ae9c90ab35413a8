"""The platform over time, locally: an Evidently UI workspace with one snapshot per day.

``python -m devstack.dashboard build`` turns :func:`devstack.timeline.timeline` (moderation metrics,
drift, the review queue and each day's champion, from the lake, the reports and MLflow) into an
Evidently workspace under ``$HARMWATCH_HOME/dashboard``: one project, one snapshot per day (timestamp =
the day, one metric per figure), and a dashboard of panels with the day on the x axis. The workspace is
derived data: each build replaces it, so a build after the same runs gives the same dashboard, at the
same URL. ``serve`` runs ``evidently ui`` on it; ``make up`` does both (scripts/up.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

from devstack.config import StackConfig
from devstack.timeline import Figures, timeline
from harmwatch.config import Settings, configure_libraries, load_settings

PROJECT = "harmwatch: the platform over time"
PROJECT_ID = uuid.uuid5(uuid.NAMESPACE_URL, "harmwatch/devstack/dashboard")  # one URL across rebuilds


LABELS = {
    "prevalence": "prevalence",
    "prevalence_ci_low": "95% interval, low",
    "prevalence_ci_high": "95% interval, high",
    "proactive_rate": "proactive rate",
    "valid_appeal_proxy": "valid-appeal proxy",
    "unreliable_report_share": "reports from unreliable reporters",
    "reported_posts": "posts reported",
    "reporters_active": "reporters",
    "posts_labelled": "posts labelled",
    "harmful_found": "harmful posts found",
    "brigade_alarms": "alarms raised",
    "report_volume_robust_z": "report volume robust z",
    "coordinated_report_share": "coordinated report share",
    "reporter_cohorts": "co-reporting cohorts",
    "drift_detected": "drift detected (1 = yes)",
    "drift_score": "drift score (share of checks drifted)",
    "report_volume_anomaly": "report volume anomaly (1 = yes)",
    "queue_from_reports": "from reports",
    "queue_from_moderators": "moderator conflicts",
    "queue_rows": "items in the queue",
    "queue_age_days_median": "median age since the evidence arrived",
    "queue_age_days_max": "oldest item",
    "review_open": "open in Label Studio",
    "review_labelled_today": "labelled that day",
    "review_labelled_per_day_7d": "labelled per day, 7-day mean",
    "review_queue_age_days_median": "median age in Label Studio",
    "review_queue_age_days_max": "oldest in Label Studio",
    "review_agreement": "moderator agreement",
    "champion_macro_f1": "champion macro-F1",
    "challenger_macro_f1": "challenger macro-F1",
    "champion_floor_macro_f1": "macro-F1 floor",
    "champion_golden_pass": "golden set passed",
    "champion_golden_must_flag": "golden must-flag passed",
    "champion_golden_benign": "golden benign passed",
    "champion_bias_score": "bias score",
    "champion_identity_fpr": "identity-template FPR",
    "champion_ece_top_label": "calibration error (ECE)",
    "champion_version": "champion version",
    "challenger_promote": "challenger promoted (1 = yes)",
}
# (section, [(panel kind, title, figures, size)]): a figure prefix ending in "_" takes every figure
# starting with it (the drift signals and columns).
SECTIONS: list[tuple[str, list[tuple[str, str, list[str], str]]]] = [
    (
        "Moderation: what moderators found, per batch day",
        [
            (
                "line",
                "Prevalence among reviewed posts",
                ["prevalence", "prevalence_ci_low", "prevalence_ci_high"],
                "half",
            ),
            (
                "line",
                "Proactive rate and appeals",
                ["proactive_rate", "valid_appeal_proxy", "unreliable_report_share"],
                "half",
            ),
            (
                "bar",
                "Report volume and moderation load",
                ["reported_posts", "reporters_active", "posts_labelled", "harmful_found"],
                "full",
            ),
        ],
    ),
    (
        "Brigade alarm: coordinated or anomalous reporting",
        [
            ("bar", "Brigade alarms raised", ["brigade_alarms", "report_volume_anomaly"], "half"),
            (
                "line",
                "Brigade signals",
                ["report_volume_robust_z", "coordinated_report_share", "reporter_cohorts"],
                "half",
            ),
        ],
    ),
    (
        "Drift: today's posts against the champion's training sample",
        [
            ("bar", "Drift verdict", ["drift_detected", "drift_score"], "half"),
            ("bar", "Signals that drifted (1 = drifted)", ["drift_"], "half"),
            ("line", "Column drift scores", ["drift_col_"], "full"),
        ],
    ),
    (
        "Review queue: what waits for a moderator",
        [
            ("bar", "Review queue by source", ["queue_from_reports", "queue_from_moderators"], "half"),
            (
                "line",
                "Review queue age (days)",
                [
                    "queue_age_days_median",
                    "queue_age_days_max",
                    "review_queue_age_days_median",
                    "review_queue_age_days_max",
                ],
                "half",
            ),
            (
                "line",
                "Label Studio throughput",
                ["review_open", "review_labelled_today", "review_labelled_per_day_7d"],
                "full",
            ),
        ],
    ),
    (
        "Champion: the model in production after each day, and that day's challenger",
        [
            (
                "line",
                "Macro-F1 on the frozen evaluation snapshot",
                ["champion_macro_f1", "challenger_macro_f1", "champion_floor_macro_f1"],
                "full",
            ),
            (
                "line",
                "Champion gate figures",
                [
                    "champion_golden_pass",
                    "champion_golden_must_flag",
                    "champion_golden_benign",
                    "champion_bias_score",
                    "champion_identity_fpr",
                    "champion_ece_top_label",
                ],
                "half",
            ),
            (
                "bar",
                "Champion version and challenger decision",
                ["champion_version", "challenger_promote"],
                "half",
            ),
        ],
    ),
]
# The newest day's headline figures. Only figures that are never 0 in practice: Evidently's counter
# shows a 0 as "no value" (so the alarm count and the drift score are plotted, never counted).
COUNTERS = [
    ("prevalence", "Prevalence"),
    ("queue_rows", "Review queue"),
    ("champion_version", "Champion version"),
    ("champion_macro_f1", "Champion macro-F1"),
]


def panel_figures(wanted: list[str], present: set[str]) -> list[str]:
    """The figures of ``wanted`` some day has (``drift_``: every signal, ``drift_col_``: every column)."""
    out: list[str] = []
    for w in wanted:
        if w == "drift_col_":
            out += sorted(f for f in present if f.startswith(w))
        elif w == "drift_":
            out += sorted(f for f in present if f.startswith(w) and f not in LABELS and "_col_" not in f)
        elif w in present:
            out.append(w)
    return out


def label(figure: str) -> str:
    return LABELS.get(figure) or figure.removeprefix("drift_col_").removeprefix("drift_").replace("_", " ")


def figure_metric() -> Any:
    """The Evidently metric of one figure of a day (a class made here: Evidently is imported lazily)."""
    from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric

    class DailyFigure(SingleValueMetric):
        """One harmwatch figure of a day, read from the day's one-row frame."""

        column: str
        title: str

    class DailyFigureCalculation(SingleValueCalculation[DailyFigure]):
        def calculate(self, context: Any, current_data: Any, reference_data: Any) -> Any:
            return self.result(float(current_data.column(self.metric.column).data.iloc[0]))

        def display_name(self) -> str:
            return self.metric.title

    return DailyFigure


def snapshots(days: dict[str, Figures]) -> list[Any]:
    """One Evidently snapshot per day (timestamp = the day), a metric per figure the day has."""
    from datetime import datetime

    import pandas as pd
    from evidently import DataDefinition, Dataset, Report

    metric = figure_metric()
    out = []
    for day, figures in days.items():
        frame = pd.DataFrame([figures])
        data = Dataset.from_pandas(frame, data_definition=DataDefinition(numerical_columns=list(frame)))
        report = Report([metric(column=f, title=label(f)) for f in figures])
        out.append(report.run(data, None, timestamp=datetime.fromisoformat(day), name=day, tags=["daily"]))
    return out


def panels(days: dict[str, Figures]) -> list[Any]:
    """The dashboard: the newest day's counters, then each section's panels (day on the x axis)."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import bar_plot_panel, counter_panel, line_plot_panel, text_panel

    present = set().union(*days.values()) if days else set()
    span = f"{min(days)} to {max(days)}, {len(days)} day(s)" if days else "no days yet"
    out = [text_panel("harmwatch: the platform over time", f"One point per batch day ({span}).")]

    def series(figures: list[str]) -> list[Any]:
        return [
            PanelMetric(legend=label(f), metric="DailyFigure", metric_labels={"column": f}) for f in figures
        ]

    for f, title in COUNTERS:
        if f in present:
            out.append(
                counter_panel(title, series([f]), description="newest day", size="half", aggregation="last")
            )
    for heading, section in SECTIONS:
        out.append(text_panel(heading))
        for kind, title, wanted, size in section:
            figures = panel_figures(wanted, present)
            if not figures:
                out.append(text_panel(title, f"No figures yet: {missing_hint(wanted)}", size=size))
            elif kind == "bar":
                out.append(bar_plot_panel(title, series(figures), size=size))
            else:
                out.append(line_plot_panel(title, series(figures), size=size))
    return out


def missing_hint(wanted: list[str]) -> str:
    """What produces a panel's figures, for a panel that has none."""
    first = wanted[0]
    if first.startswith(("drift", "report_volume_anomaly")):
        return "harmwatch drift writes them (the retrain DAG's drift_report task)."
    if first.startswith("queue_"):
        return "build-dataset writes the review queue."
    if first.startswith("review_"):
        return "the review loop (DAG harmful_content_review) with Label Studio, then harmwatch metrics."
    if first.startswith(("champion", "challenger")):
        return "harmwatch evaluate records them in MLflow."
    return "harmwatch metrics writes them (DAG harmful_content_moderation)."


def write_workspace(path: Path, days: dict[str, Figures]) -> Path:
    """Replace the workspace at ``path`` with one project holding ``days``; returns the project folder."""
    from evidently.sdk.models import ProjectModel
    from evidently.ui.workspace import Workspace

    if path.exists():
        shutil.rmtree(path)
    workspace = Workspace.create(str(path))
    project = workspace.add_project(
        ProjectModel(
            id=PROJECT_ID,
            name=PROJECT,
            description="Moderation, drift, the review queue and the champion, by day (devstack.dashboard).",
        )
    )
    for snapshot in snapshots(days):
        workspace.add_run(project.id, snapshot)
    for panel in panels(days):
        project.dashboard.add_panel(panel)
    return path / str(project.id)


def workspace_dir(settings: Settings) -> Path:
    return Path(settings.home) / "dashboard"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.dashboard", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="(re)build the workspace from the lake, the reports and MLflow")
    build.add_argument("--no-mlflow", action="store_true", help="leave out the champion's gate figures")
    serve = sub.add_parser("serve", help="run evidently ui on the workspace (127.0.0.1)")
    serve.add_argument("--port", type=int, default=StackConfig.from_env().dashboard_port)
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_libraries(settings)  # no telemetry (MLflow, and Evidently's through DO_NOT_TRACK)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    path = workspace_dir(settings)
    if args.command == "build":
        days = timeline(settings, use_mlflow=not args.no_mlflow)
        project = write_workspace(path, days)
        print(json.dumps({"workspace": str(path), "project": project.name, "days": list(days)}))
        return 0
    ui = Path(sys.executable).with_name("evidently")
    os.execv(ui, [str(ui), "ui", "--workspace", str(path), "--host", "127.0.0.1", "--port", str(args.port)])
    return 1  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
