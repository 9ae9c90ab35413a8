"""The chart's Grafana dashboard: provisioned the sidecar's way, valid Grafana JSON, querying real metrics.

The dashboard (``helm/harmwatch/files/grafana-dashboard.json``) is checked against the classic dashboard
JSON model as Grafana documents it (the dashboard kind's schema reference: required ``schemaVersion``,
panels with a plugin ``type``, a ``gridPos`` on a 24-column grid, ``fieldConfig`` with ``defaults`` and
``overrides``, queries with a unique ``refId``, template variables with ``name`` and ``type``). No
Python package ships that schema as a validator (grafana-foundation-sdk holds builders whose
``from_json`` accepts anything), so the documented structure is encoded below as a JSON Schema.

Every metric a query reads is one :mod:`harmwatch.monitoring.moderation` writes: the names come from a
Prometheus file rendered by the code itself, so a renamed metric fails here. ``promtool`` parses every
query, as Prometheus would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from harmwatch.monitoring.moderation import (
    ALARMS,
    HELP,
    QUEUE_HELP,
    alarms,
    prometheus_text,
    queue_prometheus_text,
)
from tests.deploy.deploy_support import CHART, NAMESPACE, helm_template, parse_manifests, run

DASHBOARD = CHART / "files" / "grafana-dashboard.json"
DATA_KEY = "harmwatch-moderation.json"
# Core panel plugins of Grafana 10 and later (the ones this dashboard may use without installing one).
CORE_PANELS = {
    "row",
    "timeseries",
    "stat",
    "gauge",
    "bargauge",
    "table",
    "state-timeline",
    "status-history",
    "barchart",
    "histogram",
    "heatmap",
    "piechart",
    "text",
}
# schemaVersion: the dashboard kind's documented default (36, Grafana 9.x/10.x) up to Grafana 12's 41.
SCHEMA_VERSIONS = (36, 41)

GRID_POS = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
        "static": {"type": "boolean"},
    },
}
DATASOURCE_REF = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "uid": {"type": "string"}},
    "additionalProperties": False,
}
TARGET = {
    "type": "object",
    "required": ["refId", "expr"],
    "properties": {"refId": {"type": "string", "minLength": 1}, "datasource": DATASOURCE_REF},
}
PANEL = {
    "type": "object",
    "required": ["type", "id", "title", "gridPos", "fieldConfig", "options", "targets"],
    "properties": {
        "type": {"enum": sorted(CORE_PANELS - {"row"})},
        "id": {"type": "integer", "minimum": 1},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "gridPos": GRID_POS,
        "datasource": DATASOURCE_REF,
        "targets": {"type": "array", "minItems": 1, "items": TARGET},
        "fieldConfig": {
            "type": "object",
            "required": ["defaults", "overrides"],
            "properties": {
                "defaults": {"type": "object"},
                "overrides": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["matcher", "properties"],
                        "properties": {
                            "matcher": {"type": "object", "required": ["id"]},
                            "properties": {
                                "type": "array",
                                "items": {"type": "object", "required": ["id"]},
                            },
                        },
                    },
                },
            },
        },
        "options": {"type": "object"},
        "transformations": {
            "type": "array",
            "items": {"type": "object", "required": ["id", "options"]},
        },
    },
}
ROW = {
    "type": "object",
    "required": ["type", "id", "title", "collapsed", "gridPos", "panels"],
    "properties": {
        "type": {"const": "row"},
        "id": {"type": "integer", "minimum": 1},
        "collapsed": {"type": "boolean"},
        "gridPos": GRID_POS,
        "panels": {"type": "array", "items": PANEL},
    },
}
VARIABLE = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"},
        "type": {
            "enum": ["query", "adhoc", "constant", "datasource", "interval", "textbox", "custom", "system"]
        },
    },
}
DASHBOARD_MODEL = {
    "type": "object",
    "required": ["schemaVersion", "uid", "title", "panels", "templating", "time"],
    "properties": {
        "schemaVersion": {"type": "integer", "minimum": SCHEMA_VERSIONS[0], "maximum": SCHEMA_VERSIONS[1]},
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,40}$"},
        "title": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "editable": {"type": "boolean"},
        "graphTooltip": {"enum": [0, 1, 2]},
        "timezone": {"type": "string"},
        "id": {"type": ["integer", "null"]},
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "fiscalYearStartMonth": {"type": "integer", "minimum": 0, "maximum": 11},
        "panels": {"type": "array", "minItems": 1, "items": {"oneOf": [ROW, PANEL]}},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array", "items": VARIABLE}},
        },
        "annotations": {
            "type": "object",
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["datasource", "enable", "iconColor", "name"],
                    },
                }
            },
        },
    },
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that is not a row, rows' collapsed panels included."""
    out = []
    for p in dashboard["panels"]:
        out += p["panels"] if p["type"] == "row" else [p]
    return out


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p["targets"]]


def emitted() -> tuple[set[str], set[str]]:
    """(metric names, label names) in a Prometheus file the metrics step's code renders, every metric set."""
    m: dict[str, Any] = {key: 0.5 for key in HELP}
    m.update(
        batch_dt="2026-01-07",
        report_volume={"anomaly": False},
        reliability_hist={"0.5": 1, "1.0": 3},
        reporters_judged=3,
        reliability_sum=2.1,
        largest_reporter_cohort=4,
    )
    m["alarms"] = alarms(m, max_coordinated_share=0.02)
    text = prometheus_text(m, {"model_version": "3"})
    text += queue_prometheus_text({key: 1.0 for key in QUEUE_HELP}, "2026-01-07")
    names, labels = set(), set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, rest = line.split("{", 1)
            names.add(name)
            labels |= set(re.findall(r'(\w+)="', rest.rsplit("}", 1)[0]))
    return names, labels


# ------------------------------------------------------------------ the chart


def configmaps(*sets: str) -> list[dict[str, Any]]:
    rendered = parse_manifests(helm_template(sets=list(sets)).stdout)
    return [m for m in rendered if m["kind"] == "ConfigMap" and DATA_KEY in m.get("data", {})]


def test_chart_provisions_the_dashboard_for_grafanas_sidecar() -> None:
    [cm] = configmaps()
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert json.loads(cm["data"][DATA_KEY]) == json.loads(DASHBOARD.read_text())


def test_sidecar_label_and_folder_annotation_follow_the_values() -> None:
    [cm] = configmaps(
        "monitoring.grafanaDashboard.label=dashboards",
        "monitoring.grafanaDashboard.labelValue=harmwatch",
        "monitoring.grafanaDashboard.annotations.grafana_folder=Trust and safety",
    )
    assert cm["metadata"]["labels"]["dashboards"] == "harmwatch"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Trust and safety"}
    assert configmaps("monitoring.grafanaDashboard.enabled=false") == []
    bad = helm_template(sets=["monitoring.grafanaDashboard.labelValue=1"], check=False)
    assert bad.returncode != 0 and "labelValue" in bad.stderr  # a number is not a label value


# ------------------------------------------------------------------ Grafana's dashboard model


def test_dashboard_follows_grafanas_json_model(dashboard: dict[str, Any]) -> None:
    jsonschema.validate(dashboard, DASHBOARD_MODEL)
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    ids = [p["id"] for p in rows + panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels(dashboard):
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), f"{p['title']}: refIds must be unique"


def test_the_model_check_catches_a_broken_panel(dashboard: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(dashboard))
    victim = panels(broken)[0]
    del victim["gridPos"]["w"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, DASHBOARD_MODEL)
    broken = json.loads(json.dumps(dashboard))
    panels(broken)[0]["type"] = "graph"  # the legacy panel Grafana 11 no longer ships
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, DASHBOARD_MODEL)


def test_panels_tile_the_24_column_grid_without_overlap(dashboard: dict[str, Any]) -> None:
    taken: dict[tuple[int, int], str] = {}
    for p in dashboard["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, f"{p['title']} runs past the grid"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in taken, f"{p['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = p["title"]


def test_every_query_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    [var] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert var["query"] == "prometheus"
    ref = {"type": "prometheus", "uid": f"${{{var['name']}}}"}
    for p in panels(dashboard):
        assert p["datasource"] == ref, p["title"]
        assert all(t.get("datasource", ref) == ref for t in p["targets"]), p["title"]


# ------------------------------------------------------------------ the metrics


def test_every_metric_queried_is_one_the_code_emits(dashboard: dict[str, Any]) -> None:
    names, labels = emitted()
    exprs = queries(dashboard)
    used = {n for e in exprs for n in re.findall(r"\bharmwatch_\w+", e)}
    assert used and used <= names, f"not written by harmwatch metrics: {sorted(used - names)}"
    grouped = {lab.strip() for e in exprs for g in re.findall(r"by \(([^)]*)\)", e) for lab in g.split(",")}
    assert grouped <= labels, f"labels the metrics do not carry: {sorted(grouped - labels)}"


def test_every_moderation_and_queue_metric_has_a_panel(dashboard: dict[str, Any]) -> None:
    used = {n for e in queries(dashboard) for n in re.findall(r"\bharmwatch_(\w+)", e)}
    wanted = {*HELP, *QUEUE_HELP, "moderation_alarm", "moderation_batch_timestamp_seconds"}
    assert wanted <= used, f"exported but not on the dashboard: {sorted(wanted - used)}"
    alarm_panels = [
        p for p in panels(dashboard) if any("moderation_alarm" in t["expr"] for t in p["targets"])
    ]
    assert any("by (alarm)" in t["expr"] for p in alarm_panels for t in p["targets"]), ALARMS


def test_promtool_parses_every_query(dashboard: dict[str, Any], promtool: str, tmp_path: Path) -> None:
    """Each query as a recording rule (Grafana's $__range as one day): promtool checks the PromQL."""
    rules = [
        {"record": f"harmwatch:dashboard_query_{i}", "expr": e.replace("$__range", "1d")}
        for i, e in enumerate(queries(dashboard))
    ]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = run([promtool, "check", "rules", path]).stdout
    assert f"SUCCESS: {len(rules)} rules found" in out
