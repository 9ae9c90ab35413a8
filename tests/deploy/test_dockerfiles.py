"""Dockerfiles: hadolint-clean, pinned, non-root, dependencies before source, no secrets, nothing missing.

The images are built and run under Podman by tests/pods/test_images.py; these checks read the files.
"""

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
AIRFLOW_BASE = REPO / "docker" / "local" / "airflow-base.Dockerfile"  # stand-in for the official base
ALL = [JOB, AIRFLOW, AIRFLOW_BASE]
IDS = ["job", "airflow", "airflow-base"]
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


@pytest.mark.parametrize("dockerfile", ALL, ids=IDS)
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


@pytest.mark.parametrize("dockerfile", ALL, ids=IDS)
def test_no_secrets_baked_in(dockerfile: Path) -> None:
    for keyword, args in instructions(dockerfile):
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_WORD.search(n)], f"{keyword} {args}"
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"\.env\b|id_rsa|\.pem\b|credentials|\.netrc", args), f"{keyword} {args}"
    assert not any(k == "ADD" for k, _ in instructions(dockerfile)), "use COPY (no remote URLs or tar magic)"


@pytest.mark.parametrize("dockerfile", ALL, ids=IDS)
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
            path = src.rstrip("/")
            assert any(path == a or path.startswith(f"{a}/") for a in allowed), (
                f"{src} is excluded by .dockerignore"
            )


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
    assert ("ENTRYPOINT", '["harmwatch-entrypoint"]') in final_stage
    assert "COPY --chmod=0755 docker/job-entrypoint.sh /usr/local/bin/harmwatch-entrypoint" in {
        f"{k} {a}" for k, a in final_stage
    }
    env = " ".join(a for k, a in final_stage if k == "ENV")
    assert "HARMWATCH_HOME=/var/lib/harmwatch" in env and "HOME=/var/lib/harmwatch" in env


def stages(instrs: list[Instruction]) -> dict[str, list[str]]:
    """``FROM ... AS name`` -> that stage's instructions as ``KEYWORD args`` lines."""
    out: dict[str, list[str]] = {}
    current: list[str] = []
    for keyword, args in instrs:
        if keyword == "FROM":
            current = out.setdefault(args.split()[-1], [])
        current.append(f"{keyword} {args}")
    return out


def test_job_image_installs_dependencies_before_source_from_the_lock() -> None:
    by_stage = stages(instructions(JOB))
    wheel, runtime = by_stage["wheel"], by_stage["runtime"]
    # The wheel stage lists the dependencies before it sees the source, and builds only harmwatch.
    requirements = next(i for i, s in enumerate(wheel) if "tomllib" in s)
    copy_source = next(i for i, s in enumerate(wheel) if s.startswith("COPY jobs/"))
    assert requirements < copy_source and "pip wheel --no-cache-dir --no-deps" in wheel[-1]
    # The runtime stage installs the locked dependencies from the list and the lock (not from
    # pyproject.toml or the source), then the wheel alone.
    copy_lock = next(i for i, s in enumerate(runtime) if s.startswith("COPY requirements.lock"))
    copy_list = next(i for i, s in enumerate(runtime) if "--from=wheel /src/job-requirements.txt" in s)
    install_deps = next(i for i, s in enumerate(runtime) if "-c requirements.lock -r job-requirements" in s)
    copy_wheel = next(i for i, s in enumerate(runtime) if "--from=wheel /wheels" in s)
    install_pkg = next(i for i, s in enumerate(runtime) if "--no-deps --no-index wheels/" in s)
    assert max(copy_lock, copy_list) < install_deps < copy_wheel < install_pkg
    assert not [s for s in runtime[: copy_wheel + 1] if s.startswith("COPY") and "jobs/" in s]
    assert "pyproject.toml" not in " ".join(runtime), "the dependency layer must not hang on pyproject.toml"
    assert "airflow" not in " ".join(runtime[install_deps : install_pkg + 1]).lower()
    assert "pip uninstall --yes uv" in runtime[install_deps], "the installer does not stay in the image"


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
    # The retrain DAG's trigger form is made from the gate table, found beside dags/ as in the repository.
    table = "jobs/harmwatch/model/gates.py"
    assert any(s.startswith("COPY") and s.endswith(f"{table} /opt/airflow/{table}") for s in steps)
    users = [a for k, a in instrs if k == "USER"]
    assert users == ["50000"], "the official image's airflow user, numeric"
    assert not any("harmwatch" in s and "pip install" in s for s in steps), "steps run in pods, not here"
    assert any("pip install --no-cache-dir -c /tmp/requirements.lock" in s for s in steps), "constrained"


def test_installers_are_pinned() -> None:
    for dockerfile in (JOB, AIRFLOW_BASE):
        assert re.fullmatch(r"\d+\.\d+\.\d+", arg_defaults(instructions(dockerfile))["UV_VERSION"])


def test_stand_in_airflow_base_has_the_official_shape() -> None:
    """What docker/airflow.Dockerfile relies on: user 50000 (GID 0), pip into its venv, Airflow locked."""
    instrs = instructions(AIRFLOW_BASE)
    args = arg_defaults(instrs)
    assert args["AIRFLOW_VERSION"] == lock_versions()["apache-airflow"]
    assert args["PYTHON_IMAGE"] == arg_defaults(instructions(JOB))["PYTHON_IMAGE"], "same base as the job"
    steps = [f"{k} {a}" for k, a in instrs]
    assert any("useradd --uid 50000 --gid 0 --home-dir /home/airflow" in s for s in steps)
    env = " ".join(a for k, a in instrs if k == "ENV")
    assert "VIRTUAL_ENV=/home/airflow/.local" in env and "PATH=/home/airflow/.local/bin:$PATH" in env
    assert "AIRFLOW_HOME=/opt/airflow" in env
    assert [a for k, a in instrs if k == "USER"] == ["50000"]
    assert any('"apache-airflow[postgres]==${AIRFLOW_VERSION}"' in s for s in steps)
