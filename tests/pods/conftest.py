"""Fixtures of the Podman tests: the images built once per session, Airflow on a scratch home.

The images are built by ``devstack.images.build_all`` (what ``make images`` runs): Podman's layer cache
makes a build whose inputs did not change take seconds, and any changed input is rebuilt.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from devstack import images as img

# The DAG tests parse the real DAG files in this process: Airflow reads its configuration on first import.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="harmwatch-pod-tests-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, img.Image]:
    """The python and Airflow stand-in bases, the job image and the Airflow image, built or cached."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (scripts/install-system-packages.sh installs it)")
    try:
        return img.build_all(log_dir=tmp_path_factory.mktemp("image-logs"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
