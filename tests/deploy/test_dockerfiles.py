"""Dockerfiles: hadolint-clean, pinned, non-root, dependencies before source, no secrets, nothing missing."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deploy_support import REPO, run, venv_tool

JOB = REPO / "docker" / "job.Dockerfile"
AIRFLOW = REPO / "docker" / "airflow.Dockerfile"
SECRET_WORD = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|PRIVATE_KEY", re.I)

Instruction = tuple[str, str]


def instructions(path: Path) -> list[Instruction]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[Instruction] = []
    buffer = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, args = buffer.partition(" ")
        out.append((keyword.upper(), args.strip()))
        buffer = ""
    return out


def arg_defaults(instrs: list[Instruction]) -> dict[str, str]:
    return dict(a.split("=", 1) for k, a in instrs if k == "ARG" and "=" in a)


def lock_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


@pytest.mark.parametrize("dockerfile", [JOB, AIRFLOW], ids=["job", "airflow"])
def test_hadolint_clean(dockerfile: Path) -> None:
    hadolint = venv_tool("hadolint")
    # Default failure threshold is `info`: any finding, warning or style included, fails.
    proc = run([hadolint, "--no-color", dockerfile], check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_hadolint_really_lints() -> None:
    hadolint = venv_tool("hadolint")
    proc = subprocess.run(
        [str(hadolint), "--no-color", "-"],
        input="FROM python:latest\nRUN cd /tmp\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "DL3007" in proc.stdout


@pytest.mark.parametrize("dockerfile", [JOB, AIRFLOW], ids=["job", "airflow"])
def test_no_secrets_baked_in(dockerfile: Path) -> None:
    for keyword, args in instructions(dockerfile):
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_WORD.search(n)], f"{keyword} {args}"
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"\.env\b|id_rsa|\.pem\b|credentials|\.netrc", args), f"{keyword} {args}"
    assert not any(k == "ADD" for k, _ in instructions(dockerfile)), "use COPY (no remote URLs or tar magic)"


@pytest.mark.parametrize("dockerfile", [JOB, AIRFLOW], ids=["job", "airflow"])
def test_copy_sources_exist_and_pass_dockerignore(dockerfile: Path) -> None:
    ignore = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", ".dockerignore allow-lists the build context"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for keyword, args in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in args:
            continue
        sources = [a for a in shlex.split(args) if not a.startswith("--")][:-1]
        for src in sources:
            assert (REPO / src).exists(), f"{dockerfile.name}: COPY {src} but {src} is not in the repository"
            assert src.rstrip("/") in allowed, f"{src} is excluded by .dockerignore"


def test_job_image_is_multistage_pinned_and_non_root() -> None:
    instrs = instructions(JOB)
    froms = [a for k, a in instrs if k == "FROM"]
    assert len(froms) >= 2, "multi-stage build"
    base = arg_defaults(instrs)["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.12\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    final_stage = instrs[max(i for i, (k, _) in enumerate(instrs) if k == "FROM") :]
    users = [a for k, a in final_stage if k == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), f"numeric non-root USER, got {users}"
    assert int(users[-1].split(":")[0]) >= 10000
    assert ("ENTRYPOINT", '["harmwatch"]') in final_stage
    env = " ".join(a for k, a in final_stage if k == "ENV")
    assert "HARMWATCH_HOME=/var/lib/harmwatch" in env and "HOME=/var/lib/harmwatch" in env


def test_job_image_installs_dependencies_before_source_from_the_lock() -> None:
    instrs = instructions(JOB)
    steps = [f"{k} {a}" for k, a in instrs]
    copy_lock = next(i for i, s in enumerate(steps) if s.startswith("COPY") and "requirements.lock" in s)
    install_deps = next(i for i, s in enumerate(steps) if "pip install -c requirements.lock" in s)
    copy_source = next(i for i, s in enumerate(steps) if s.startswith("COPY jobs/"))
    install_pkg = next(i for i, s in enumerate(steps) if "pip install --no-deps ." in s)
    assert copy_lock < install_deps < copy_source < install_pkg
    assert "airflow" not in " ".join(steps[install_deps : install_pkg + 1]).lower()


def test_job_image_requirement_list_is_the_jobs_plus_postgres_and_all_pinned() -> None:
    """Run the Dockerfile's own requirement extraction and check every line has a pin in the lock."""
    run_step = next(a for k, a in instructions(JOB) if k == "RUN" and "tomllib" in a)
    script = shlex.split(run_step.split(">", 1)[0])
    assert script[:2] == ["python", "-c"]
    out = run([sys.executable, "-c", script[2]], cwd=REPO).stdout.split()
    names = {re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].lower().replace("_", "-") for req in out}
    assert "psycopg2-binary" in names and "mlflow" in names
    assert not {n for n in names if n.startswith("apache-airflow")}, "no Airflow in the job image"
    pins = lock_versions()
    assert not names - set(pins), f"not pinned in requirements.lock: {names - set(pins)}"


def test_job_image_can_run_the_mlflow_basic_auth_app() -> None:
    """The chart runs `mlflow server --app-name basic-auth` from the job image: Flask-WTF must be locked."""
    assert "flask-wtf" in lock_versions()


def test_airflow_image_matches_the_lock_and_bakes_in_the_dags() -> None:
    instrs = instructions(AIRFLOW)
    args = arg_defaults(instrs)
    pins = lock_versions()
    m = re.fullmatch(r"apache/airflow:(3\.\d+\.\d+)-python3\.12", args["AIRFLOW_IMAGE"])
    assert m, args["AIRFLOW_IMAGE"]
    assert m.group(1) == args["AIRFLOW_VERSION"] == pins["apache-airflow"]
    assert args["CNCF_KUBERNETES_PROVIDER_VERSION"] == pins["apache-airflow-providers-cncf-kubernetes"]
    steps = [f"{k} {a}" for k, a in instrs]
    assert any(s.startswith("COPY") and "dags/ /opt/airflow/dags/" in s for s in steps)
    users = [a for k, a in instrs if k == "USER"]
    assert users == ["50000"], "the official image's airflow user, numeric"
    assert not any("harmwatch" in s and "pip install" in s for s in steps), "steps run in pods, not here"
