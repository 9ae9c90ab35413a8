""".gitlab-ci.yml: GitLab's CI schema, the jobs/stages gitlab-ci-local evaluates from it, the tiers of the
test jobs, and the fast tier's job run by gitlab-ci-local the way a runner runs it (a clean clone, the data
fetched over HTTP)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import itertools
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import http_server
from tests.deploy.deploy_support import REPO, run, shared_dir, shared_schema

CI_FILE = REPO / ".gitlab-ci.yml"
STAGES = ["lint", "check", "test", "build", "chart", "deploy"]
# The heavy tiers' jobs in the order that decides which job runs a test with several markers.
HEAVY_JOBS = ["test:browser", "test:airflow", "test:spark", "test:model", "test:server", "test:slow"]
EXPECTED_JOBS = {
    "lint:ruff": "lint",
    "lint:hadolint": "lint",
    "lint:dependency-audit": "lint",
    "check": "check",
    **dict.fromkeys(HEAVY_JOBS, "test"),
    "build:job-image": "build",
    "build:airflow-image": "build",
    "chart": "chart",
    "deploy:staging": "deploy",
    "deploy:production": "deploy",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return yaml.safe_load(CI_FILE.read_text())


def _jobs(ci: dict[str, Any]) -> dict[str, dict[str, Any]]:
    reserved = {
        "stages",
        "variables",
        "workflow",
        "default",
        "include",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
    }
    return {k: v for k, v in ci.items() if k not in reserved and not k.startswith(".")}


def _resolved(ci: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its `extends` chain merged (deep merge of mappings, as GitLab does)."""
    job = ci[name]
    merged: dict[str, Any] = {}
    parents = job.get("extends", [])
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _deep_merge(merged, _resolved(ci, parent))
    return _deep_merge(merged, {k: v for k, v in job.items() if k != "extends"})


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ------------------------------------------------------------------ static checks


def test_gitlab_ci_validates_against_gitlab_schema(ci: dict[str, Any]) -> None:
    schema = json.loads(shared_schema("gitlab-ci.schema.json").read_text())
    validator_cls = jsonschema.validators.validator_for(schema)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator_cls(schema).iter_errors(ci)
    ]
    assert errors == []
    # ... and the schema does reject a broken file, so the check above means something.
    broken = {**ci, "check": {**ci["check"], "stage": ["check"], "when": "sometimes"}}
    assert list(validator_cls(schema).iter_errors(broken))


def test_stages_in_order(ci: dict[str, Any]) -> None:
    assert ci["stages"] == STAGES


def test_no_latest_images_and_no_docker_in_docker(ci: dict[str, Any]) -> None:
    text = yaml.safe_dump(ci)  # the configuration without its comments
    assert "dind" not in text and "docker:" not in text
    assert "privileged" not in text
    images = [v for k, v in ci["variables"].items() if k.endswith("_IMAGE") and not str(v).startswith("$")]
    assert images, "pinned images are declared as variables"
    for image in images:
        assert re.fullmatch(r"[\w./-]+:[\w.-]*\d[\w.-]*", image), f"{image} is not pinned to a version"
        assert not image.endswith(":latest")
    assert ":latest" not in text


def test_build_uses_rootless_buildkit_and_pushes_sha_tags(ci: dict[str, Any]) -> None:
    assert ci["variables"]["BUILDKIT_IMAGE"].startswith("moby/buildkit:") and ci["variables"][
        "BUILDKIT_IMAGE"
    ].endswith("-rootless")
    targets = {}
    for name in ("build:job-image", "build:airflow-image"):
        job = _resolved(ci, name)
        assert job["stage"] == "build"
        assert job["image"]["name"] == "$BUILDKIT_IMAGE"
        script = " ".join(job["script"])
        assert "buildctl-daemonless.sh build" in script
        assert "name=$IMAGE:$CI_COMMIT_SHA,push=true" in script
        assert (REPO / "docker" / job["variables"]["DOCKERFILE"]).is_file()
        targets[name] = job["variables"]["IMAGE"]
    assert ci["variables"]["JOB_IMAGE"] == "$CI_REGISTRY_IMAGE/job"
    assert ci["variables"]["AIRFLOW_IMAGE"] == "$CI_REGISTRY_IMAGE/airflow"
    assert targets == {"build:job-image": "$JOB_IMAGE", "build:airflow-image": "$AIRFLOW_IMAGE"}


def test_lint_test_and_chart_jobs_run_the_real_tools(ci: dict[str, Any]) -> None:
    scripts = {name: " ".join(_resolved(ci, name).get("script", [])) for name in _jobs(ci)}
    assert "ruff check" in scripts["lint:ruff"]
    assert "hadolint docker/job.Dockerfile docker/airflow.Dockerfile" in scripts["lint:hadolint"]
    assert (
        "pip-audit" in scripts["lint:dependency-audit"]
        and "requirements.lock" in scripts["lint:dependency-audit"]
    )
    assert scripts["check"] == "make check"
    assert all(scripts[name] == "make test" for name in HEAVY_JOBS)
    assert ci["variables"]["PYTHON_IMAGE"].endswith("-slim-bookworm")
    for name in ["check", *HEAVY_JOBS]:
        job = _resolved(ci, name)
        assert job["image"] == "$PYTHON_IMAGE"
        assert any("apt-get install" in line and "make" in line for line in job["before_script"])
        # A runner has no ../shared: the job fetches the data (checked against its sha256) before the tests.
        assert job["before_script"][-1] == "scripts/fetch-data.sh"
        assert job["variables"]["HARMWATCH_SHARED_DIR"] == "$CI_PROJECT_DIR/.harmwatch/shared"
    assert "helm lint --strict helm/harmwatch" in scripts["chart"] and "helm package" in scripts["chart"]
    assert ci["variables"]["HELM_IMAGE"].startswith("alpine/helm:")


def _selects(args: str, markers: set[str]) -> bool:
    """Whether ``pytest ARGS`` (``-m "EXPR"`` or nothing) runs a test that carries ``markers``."""
    from _pytest.mark.expression import Expression

    if not args:
        return True
    option, expression = args.split(" ", 1)
    assert option == "-m", args
    return Expression.compile(expression.strip('"')).evaluate(lambda name, **_: name in markers)


def test_the_fast_tier_runs_first_and_the_heavy_tiers_once_each_after_it(ci: dict[str, Any]) -> None:
    """Every combination of cost markers is run by exactly one test job: a test without any (the fast
    tier, marked `fast` at collection) by `check` alone, which `make check` runs with ``-m fast``; one with
    podman by none (job containers cannot run Podman); every other by exactly one heavy job."""
    from tests.conftest import HEAVY_MARKERS

    check = _resolved(ci, "check")
    assert check["needs"] == [] and ci["stages"].index("check") < ci["stages"].index("test")
    recipe = re.search(r"^check:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert recipe and re.search(r"pytest .*-m fast\b", recipe.group(1)), "make check runs the fast tier"
    heavy = {name: _resolved(ci, name) for name in _jobs(ci) if name.startswith("test:")}
    assert list(heavy) == HEAVY_JOBS
    for name, job in heavy.items():
        assert job["stage"] == "test" and job["needs"] == ["check"], name
    builds = [_resolved(ci, name)["needs"] for name in ("build:job-image", "build:airflow-image")]
    assert all(set(needs) == {"check", *HEAVY_JOBS} for needs in builds), "images only from a green suite"
    for size in range(len(HEAVY_MARKERS) + 1):
        for combination in itertools.combinations(HEAVY_MARKERS, size):
            markers = set(combination) or {"fast"}
            runs = [name for name, job in heavy.items() if _selects(job["variables"]["PYTEST_ARGS"], markers)]
            if "fast" in markers:
                assert runs == [], "the fast tier runs in check only"
            elif "podman" in markers:
                assert runs == [], combination
            else:
                assert len(runs) == 1, (combination, runs)
    # The check is not vacuous: a job without its exclusions runs tests another job runs too.
    assert _selects('-m "model"', {"model", "server"}) and _selects('-m "server"', {"model", "server"})


def test_deploys_are_atomic_with_the_commit_sha(ci: dict[str, Any]) -> None:
    for name in ("deploy:staging", "deploy:production"):
        job = _resolved(ci, name)
        script = "\n".join(job["script"])
        assert script.count("helm upgrade --install") == 2, "harmwatch chart and the Airflow chart"
        assert script.count("--atomic") == 2
        assert 'image.tag="$CI_COMMIT_SHA"' in script and 'images.airflow.tag="$CI_COMMIT_SHA"' in script
        assert "-f helm/values-production.yaml" in script and "-f helm/airflow-values.yaml" in script
        assert job["environment"]["name"] in ("staging", "production") and job["environment"]["url"]
    staging, production = _resolved(ci, "deploy:staging"), _resolved(ci, "deploy:production")
    assert staging["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert production["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual"}]
    assert "deploy:staging" in production["needs"]


# ------------------------------------------------------------------ gitlab-ci-local


@pytest.fixture(scope="module")
def gitlab_ci_local() -> Path:
    """gitlab-ci-local@4.72.0 in .harmwatch/tools (installed with npm by the script when missing)."""
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-gitlab-ci-local.sh")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"scripts/install-gitlab-ci-local.sh failed:\n{proc.stdout}\n{proc.stderr}")
    binary = Path(proc.stdout.strip().splitlines()[-1])
    if not binary.exists():
        pytest.fail(f"gitlab-ci-local not found at {binary}")
    return binary


@pytest.fixture
def ci_checkout(tmp_path: Path) -> Iterator[Path]:
    """A throwaway git repository holding .gitlab-ci.yml (gitlab-ci-local writes state into its cwd)."""
    shutil.copy2(CI_FILE, tmp_path / ".gitlab-ci.yml")
    git = [
        "git",
        "-c",
        "user.email=ci@example.invalid",
        "-c",
        "user.name=ci",
        "-c",
        "init.defaultBranch=main",
    ]
    run([*git, "init", "-q"], cwd=tmp_path)
    run([*git, "add", ".gitlab-ci.yml"], cwd=tmp_path)
    run([*git, "commit", "-q", "-m", "ci"], cwd=tmp_path)
    yield tmp_path


def parse_list(output: str) -> dict[str, dict[str, str]]:
    """Parse `gitlab-ci-local --list`: a fixed-width table whose header starts with `name`.

    Columns are located by the header's word offsets (cells such as description can be empty),
    warnings before the table and colour codes are ignored.
    """
    lines = [ANSI.sub("", line).rstrip() for line in output.splitlines()]
    try:
        start = next(
            i for i, line in enumerate(lines) if re.match(r"^name\s+description\s+stage\s+when\b", line)
        )
    except StopIteration:
        raise AssertionError(f"no job table in gitlab-ci-local output:\n{output}") from None
    header = lines[start]
    columns = [(m.group(), m.start()) for m in re.finditer(r"\S+", header)]
    jobs: dict[str, dict[str, str]] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        row = {}
        for i, (col, offset) in enumerate(columns):
            end = columns[i + 1][1] if i + 1 < len(columns) else None
            row[col] = line[offset:end].strip()
        jobs[row["name"]] = row
    return jobs


def _list(binary: Path, cwd: Path) -> dict[str, dict[str, str]]:
    proc = run([binary, "--list", "--no-color"], cwd=cwd, timeout=120)
    return parse_list(proc.stdout)


def test_parse_list_handles_empty_cells_and_warnings() -> None:
    sample = (
        " WARN  something\nname      description  stage  when        allow_failure  needs\n"
        "a:b                    lint   on_success  false          \n"
        "deploy    ship it      deploy manual      false          [a:b]\n\nother text\n"
    )
    jobs = parse_list(sample)
    assert jobs["a:b"] == {
        "name": "a:b",
        "description": "",
        "stage": "lint",
        "when": "on_success",
        "allow_failure": "false",
        "needs": "",
    }
    assert jobs["deploy"]["description"] == "ship it" and jobs["deploy"]["needs"] == "[a:b]"


@pytest.mark.slow
def test_gitlab_ci_local_lists_all_jobs_on_the_default_branch(
    gitlab_ci_local: Path, ci_checkout: Path
) -> None:
    jobs = _list(gitlab_ci_local, ci_checkout)
    assert {name: row["stage"] for name, row in jobs.items()} == EXPECTED_JOBS
    assert jobs["deploy:staging"]["when"] == "on_success"
    assert jobs["deploy:production"]["when"] == "manual"
    assert jobs["deploy:staging"]["environment"] == "staging"
    assert jobs["deploy:production"]["environment"] == "production"
    assert all(row["when"] == "on_success" for name, row in jobs.items() if not name.startswith("deploy"))
    # Stages run in the declared order: every job's needs live in earlier stages.
    listed = json.loads(run([gitlab_ci_local, "--list-json"], cwd=ci_checkout).stdout)
    order = {s: i for i, s in enumerate(STAGES)}
    stage_of = {j["name"]: j["stage"] for j in listed}
    for job in listed:
        for need in job.get("needs", []):
            assert order[stage_of[need["job"]]] <= order[job["stage"]], (job["name"], need["job"])


@pytest.mark.slow
def test_gitlab_ci_local_has_no_deploy_on_feature_branches(gitlab_ci_local: Path, ci_checkout: Path) -> None:
    run(["git", "checkout", "-q", "-b", "feature/x"], cwd=ci_checkout)
    jobs = _list(gitlab_ci_local, ci_checkout)
    assert set(jobs) == {n for n in EXPECTED_JOBS if not n.startswith("deploy")}


# ------------------------------------------------------------------ the test job, run as a runner would

# A small part of the fast tier for the job's `make check` here: the whole tier inside the suite would run it
# twice. Both tests read the fetched archive: the dataset (data/) and the GitLab schema (schemas/).
JOB_TESTS = (
    "tests/jobs/test_simulate.py::test_landing_layout_and_every_post_once "
    "tests/deploy/test_gitlab_ci.py::test_gitlab_ci_validates_against_gitlab_schema"
)


def serve(folder: Path) -> contextlib.AbstractContextManager[str]:
    """A static HTTP server for ``folder`` on 127.0.0.1 (free port), stopped on exit; yields its URL."""
    return http_server(functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder)))


def shared_archive(out: Path) -> tuple[Path, str]:
    """data/ and schemas/ of the shared folder as the .tar.gz HARMWATCH_DATA_URL names, and its sha256."""
    archive = out / "harmwatch-shared.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for part in ("data", "schemas"):
            tar.add(shared_dir() / part, arcname=part)
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def restore_wheel_cache(clone: Path) -> None:
    """The job's cached ``.cache/wheels`` (key ``test-<ref>``), as a runner restores it on every pipeline
    after the first: the pyspark wheel this machine's `make` built (Makefile, ``WHEELS``). Building it
    again from its source distribution would cost the job about 25 CPU-s; a fresh machine's `make`
    builds it the first time, so that path runs on every clean set-up."""
    built = sorted((Path.home() / ".cache" / "harmwatch" / "wheels").glob("pyspark-*.whl"))
    if built:
        cache = clone / ".cache" / "wheels"
        cache.mkdir(parents=True)
        try:  # 450 MB: linked where the file system allows it
            os.link(built[-1], cache / built[-1].name)
        except OSError:
            shutil.copy2(built[-1], cache / built[-1].name)


@pytest.mark.slow
def test_the_check_job_passes_in_a_clean_clone_without_shared(gitlab_ci_local: Path, tmp_path: Path) -> None:
    clone = tmp_path / "checkout"
    run(["git", "clone", "--quiet", REPO, clone])
    run(["git", "checkout", "--quiet", run(["git", "rev-parse", "HEAD"], cwd=REPO).stdout.strip()], cwd=clone)
    assert not (clone.parent / "shared").exists() and not (clone / ".harmwatch").exists()
    restore_wheel_cache(clone)
    served = tmp_path / "served"
    served.mkdir()
    archive, sha256 = shared_archive(served)
    # The job sees the machine, not this test session: no harmwatch, Airflow or virtualenv settings, and
    # none of the outer make's flags (`make test PYTEST_ARGS=...` would reach the job's make through them).
    inherited = ("HARMWATCH_", "AIRFLOW", "VIRTUAL_ENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    with serve(served) as url:
        cmd = [
            str(gitlab_ci_local),
            "check",
            "--force-shell-executor",
            "--home",
            str(tmp_path / "gitlab-ci-local-home"),
            # A runner's shell executor sets CI_PROJECT_DIR to the checkout; gitlab-ci-local's keeps the
            # Docker executor's /builds/<group>/<project>, a folder outside this test.
            "--variable",
            f"CI_PROJECT_DIR={clone}",
            "--variable",
            f"HARMWATCH_DATA_URL={url}/{archive.name}",
            "--variable",
            f"HARMWATCH_DATA_SHA256={sha256}",
            "--variable",
            f"PYTEST_ARGS={JOB_TESTS}",
        ]
        proc = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, timeout=1800)
    out = ANSI.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, out[-6000:]
    assert "fetch-data: data and schemas unpacked" in out
    assert re.search(r"\b2 passed\b", out), out[-3000:]
    assert f"fetch-data: data and schemas unpacked into {clone}/.harmwatch/shared" in out
    assert (clone / ".harmwatch" / "shared" / "data" / "cyberbullying_tweets.csv").is_file()
    assert not (clone.parent / "shared").exists()


def test_fetch_data_refuses_an_archive_with_the_wrong_sha256(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    archive, sha256 = shared_archive(served)
    target = tmp_path / "shared"
    env = {
        **os.environ,
        "HARMWATCH_SHARED_DIR": str(target),
        "HARMWATCH_DATA_SHA256": "0" * 64,
    }
    with serve(served) as url:
        env["HARMWATCH_DATA_URL"] = f"{url}/{archive.name}"
        bad = subprocess.run(
            ["bash", "scripts/fetch-data.sh"], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert bad.returncode == 1 and "expected " + "0" * 64 in bad.stderr, bad.stderr
        assert not target.exists(), "nothing is unpacked from an archive that failed its check"
        env["HARMWATCH_DATA_SHA256"] = sha256
        good = subprocess.run(
            ["bash", "scripts/fetch-data.sh"], cwd=REPO, env=env, capture_output=True, text=True
        )
    assert good.returncode == 0, good.stderr
    assert (target / "data" / "cyberbullying_tweets.csv").read_bytes() == (
        shared_dir() / "data" / "cyberbullying_tweets.csv"
    ).read_bytes()
    assert (target / "schemas" / "gitlab-ci.schema.json").is_file()
