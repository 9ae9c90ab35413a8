"""Fixtures of the deployment tests; the helpers live in deploy_support.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.deploy.deploy_support import RENDER_CASES, Manifest, helm_path, render


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary in .venv/bin (installed by scripts/install-helm.sh when missing)."""
    return helm_path()


@pytest.fixture(scope="session")
def promtool() -> str:
    """Prometheus' promtool (Debian's prometheus, installed by scripts/install-system-packages.sh)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: scripts/install-system-packages.sh installs Debian's prometheus")
    return path


@pytest.fixture(params=sorted(RENDER_CASES))
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    """Rendered chart, once per values case: chart defaults and helm/values-production.yaml."""
    return render(request.param)
