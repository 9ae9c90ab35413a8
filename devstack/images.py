"""Build the job and Airflow images with Podman, from the same Dockerfiles the GitLab pipeline builds.

``make images`` (``python -m devstack.images``) builds ``docker/job.Dockerfile`` and
``docker/airflow.Dockerfile`` into the local image store as ``localhost/harmwatch/job:<tag>`` and
``localhost/harmwatch/airflow:<tag>``, where the tag is the commit SHA (``-dirty`` when the build inputs
have uncommitted changes), as the pipeline tags ``$CI_REGISTRY_IMAGE/job:$CI_COMMIT_SHA``.

No container registry is reachable from a developer machine or CI here, so the official base images
cannot be pulled. Both Dockerfiles take their base as a build argument (default: the official image);
this module passes local stand-ins of the same shape instead:

- ``localhost/harmwatch-base/python:<version>-bookworm-<hash>`` for ``python:3.12-slim-bookworm``:
  ``docker/local/python-base.sh`` (debootstrap + the local CPython 3.12). Tagged by the hash of its
  inputs and built only when that tag is missing.
- ``localhost/harmwatch-base/airflow:<version>-python3.12`` for ``apache/airflow:<version>-python3.12``:
  ``docker/local/airflow-base.Dockerfile`` on the Python stand-in, Airflow at the lock's version.

Everything else is Podman's layer cache: a build whose inputs did not change takes seconds, and a
changed input rebuilds from the first layer it touches. Podman runs with ``devstack/containers.conf``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTAINERS_CONF = REPO / "devstack" / "containers.conf"
REGISTRY = "localhost/harmwatch"
BASE_REGISTRY = "localhost/harmwatch-base"
PYTHON_BASE_SCRIPT = REPO / "docker" / "local" / "python-base.sh"
# What the images are built from: a change here gives a new tag and (through the layer cache) a rebuild.
BUILD_INPUTS = ("docker", "jobs", "dags", "pyproject.toml", "requirements.lock", "README.md", ".dockerignore")


@dataclass(frozen=True)
class Image:
    """One built image: its reference, how long the build took and its size in the local store."""

    ref: str
    image_id: str
    size_bytes: int
    seconds: float

    @property
    def size_mb(self) -> int:
        return round(self.size_bytes / 1e6)


def podman_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every podman call gets: this repository's containers.conf."""
    return {**(os.environ if env is None else env), "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``podman ARGS`` with :func:`podman_env`; output captured, a clear error when it fails."""
    proc = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"podman {' '.join(args[:3])} ... exited {proc.returncode}:\n{tail}")
    return proc


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def inspect(ref: str, seconds: float = 0.0) -> Image:
    data = json.loads(podman("image", "inspect", ref).stdout)[0]
    return Image(ref=ref, image_id=data["Id"][:12], size_bytes=int(data["Size"]), seconds=round(seconds, 1))


def lock_version(package: str) -> str:
    """The version ``requirements.lock`` pins for ``package``."""
    found = re.search(rf"^{re.escape(package)}==([^\s;]+)", (REPO / "requirements.lock").read_text(), re.M)
    if not found:
        raise RuntimeError(f"{package} is not pinned in requirements.lock")
    return found.group(1)


def commit_tag() -> str:
    """The commit SHA, with ``-dirty`` when a build input has uncommitted changes (``dev`` outside git)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode != 0:
        return "dev"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", *BUILD_INPUTS], cwd=REPO, capture_output=True, text=True
    )
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def python_prefix() -> Path:
    """The CPython 3.12 installation the Python stand-in copies (``HARMWATCH_BASE_PYTHON``, else ours)."""
    return Path(os.environ.get("HARMWATCH_BASE_PYTHON") or sys.base_prefix)


def python_base(prefix: Path | None = None) -> Image:
    """The stand-in for ``python:3.12-slim-bookworm``, built by ``docker/local/python-base.sh`` if missing.

    Its tag hashes every input: the recipe, the CPython build (interpreter and libpython) and the CA
    certificates the recipe adds.
    """
    prefix = prefix or python_prefix()
    version = subprocess.run(
        [str(prefix / "bin" / "python3"), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    digest = hashlib.sha256(PYTHON_BASE_SCRIPT.read_bytes())
    for path in [prefix / "bin" / "python3.12", *sorted((prefix / "lib").glob("libpython3.12.so*"))]:
        digest.update(path.read_bytes())
    for cert in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
        digest.update(cert.read_bytes())
    ref = f"{BASE_REGISTRY}/python:{version}-bookworm-{digest.hexdigest()[:12]}"
    if image_exists(ref):
        return inspect(ref)
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(PYTHON_BASE_SCRIPT), str(prefix), ref],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"docker/local/python-base.sh failed:\n{proc.stderr[-3000:]}")
    return inspect(ref, time.monotonic() - started)


def build(dockerfile: str, ref: str, build_args: dict[str, str], log: Path) -> Image:
    """``podman build`` of a Dockerfile (context: the repository root) with the layer cache."""
    args = [f"--build-arg={k}={v}" for k, v in build_args.items()]
    started = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        code = subprocess.run(
            ["podman", "build", "--layers", "-f", dockerfile, *args, "-t", ref, str(REPO)],
            env=podman_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=3600,
        ).returncode
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"podman build -f {dockerfile} exited {code} (log: {log}):\n{tail}")
    return inspect(ref, time.monotonic() - started)


def build_all(tag: str | None = None, log_dir: Path | None = None) -> dict[str, Image]:
    """Build (or find in the cache) the bases, the job image and the Airflow image; returns all four."""
    tag = tag or commit_tag()
    log_dir = log_dir or Path(os.environ.get("HARMWATCH_HOME", REPO / ".harmwatch")) / "run" / "images"
    airflow_version = lock_version("apache-airflow")
    python = python_base()
    airflow_base = build(
        "docker/local/airflow-base.Dockerfile",
        f"{BASE_REGISTRY}/airflow:{airflow_version}-python3.12",
        {"PYTHON_IMAGE": python.ref, "AIRFLOW_VERSION": airflow_version},
        log_dir / "airflow-base.log",
    )
    job = build(
        "docker/job.Dockerfile", f"{REGISTRY}/job:{tag}", {"PYTHON_IMAGE": python.ref}, log_dir / "job.log"
    )
    airflow = build(
        "docker/airflow.Dockerfile",
        f"{REGISTRY}/airflow:{tag}",
        {"AIRFLOW_IMAGE": airflow_base.ref},
        log_dir / "airflow.log",
    )
    return {"python-base": python, "airflow-base": airflow_base, "job": job, "airflow": airflow}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.images", description=__doc__.splitlines()[0])
    parser.add_argument("--tag", help="image tag (default: the commit SHA, -dirty if inputs changed)")
    parser.add_argument("--json", action="store_true", help="print the images as JSON")
    args = parser.parse_args(argv)
    try:
        images = build_all(args.tag)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({k: {**asdict(v), "size_mb": v.size_mb} for k, v in images.items()}, indent=2))
    else:
        for name, image in images.items():
            print(f"{name:13} {image.ref:70} {image.size_mb:6d} MB  {image.seconds:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
