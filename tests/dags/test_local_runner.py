"""The local runner: `harmwatch <step>` as a subprocess, its summary as XCom, its error as the failure.

A stand-in ``harmwatch`` (HARMWATCH_BIN) keeps these tests fast; the real commands run through the
same operator in tests/e2e.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest

FAKE = """#!{python}
import json, sys
step, args = sys.argv[1], sys.argv[2:]
print(f"2026-01-01 harmwatch.{{step}} INFO working on {{args}}", file=sys.stderr)
print("library chatter on stdout is fine if the summary comes last")
if "--exit" in " ".join(args):
    code = int([a for a in args if a.startswith("--exit=")][0].split("=")[1])
    msg = "batch labelled/dt=2026-01-01/a.csv failed volume check"
    print(f"harmwatch {{step}}: error: {{msg}}", file=sys.stderr)
    sys.exit(code)
promoted = "--force" in args
print(json.dumps({{"step": step, "args": args, "promoted": promoted, "decision": "reject"}}))
"""


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.fixture
def fake_harmwatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "harmwatch"
    path.write_text(FAKE.format(python=sys.executable))
    path.chmod(0o755)
    monkeypatch.setenv("HARMWATCH_BIN", str(path))
    return path


def operator(step: str, arguments: list[str], **kwargs: Any):
    """The task a DAG file builds, with the runner configuration read from the environment."""
    from harmwatch_tasks import RunnerConfig

    return RunnerConfig.from_env(runner="local").task(step, arguments, **kwargs)


def test_summary_becomes_the_return_value_and_empty_arguments_are_dropped(fake_harmwatch) -> None:
    ti = FakeTI()
    op = operator("ingest", ["--date=2026-01-01", "", "  "])
    summary = op.execute({"ti": ti})
    assert summary["step"] == "ingest"
    assert summary["args"] == ["--date=2026-01-01"]
    assert ti.xcom["step_seconds"] >= 0


@pytest.mark.parametrize(("code", "retried"), [(3, False), (2, False), (4, True), (1, True)])
def test_failure_carries_the_step_error_and_retries_only_what_can_heal(
    fake_harmwatch, code: int, retried: bool
) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    op = operator("validate", [f"--exit={code}"])
    with pytest.raises(AirflowException) as info:
        op.execute({"ti": FakeTI()})
    assert isinstance(info.value, AirflowFailException) is not retried
    assert f"exited {code}" in str(info.value)
    assert "failed volume check" in str(info.value), "the step's one-line error is the task's error"


def test_skip_unless_skips_but_keeps_the_summary(fake_harmwatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    ti = FakeTI()
    with pytest.raises(AirflowSkipException, match="promoted is false"):
        operator("promote", ["--date=2026-01-01"], skip_unless="promoted").execute({"ti": ti})
    assert ti.xcom["return_value"]["decision"] == "reject"
    assert operator("promote", ["--force"], skip_unless="promoted").execute({"ti": FakeTI()})["promoted"]


def test_missing_summary_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowException

    silent = tmp_path / "harmwatch"
    silent.write_text(f"#!{sys.executable}\nprint('no json here')\n")
    silent.chmod(0o755)
    monkeypatch.setenv("HARMWATCH_BIN", str(silent))
    with pytest.raises(AirflowException, match="not JSON"):
        operator("train", []).execute({"ti": FakeTI()})


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"x": None, "on": False}, ["", ""]),
        ({"x": "", "on": False}, ["", ""]),
        ({"x": "s3://bucket/landing", "on": True}, ["--landing=s3://bucket/landing", "--approval"]),
        ({"x": 'it\'s "quoted" & spaced', "on": True}, ['--landing=it\'s "quoted" & spaced', "--approval"]),
    ],
)
def test_optional_arguments_render_to_a_flag_or_nothing(params: dict, expected: list[str]) -> None:
    from harmwatch_tasks import drop_empty, flag, option

    env = jinja2.Environment()
    rendered = [
        env.from_string(option("--landing", "params.x")).render(params=params),
        env.from_string(flag("--approval", "params.on")).render(params=params),
    ]
    assert rendered == expected
    assert drop_empty(rendered) == [a for a in expected if a]


def test_unknown_steps_and_runners_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown harmwatch step"):
        operator("tran", [])
    from harmwatch_tasks import RunnerConfig

    with pytest.raises(ValueError, match="HARMWATCH_RUNNER"):
        RunnerConfig.from_env({"HARMWATCH_RUNNER": "docker"})


def test_failure_callback_logs_one_line(caplog: pytest.LogCaptureFixture) -> None:
    from harmwatch_tasks import log_failure

    class TI:
        dag_id, task_id, try_number, run_id = "harmful_content_retrain", "validate", 2, "r"

    with caplog.at_level("ERROR", logger="harmwatch.dags"):
        log_failure({"ti": TI(), "ds": "2026-01-02", "exception": RuntimeError("exited 3: bad\nmore")})
    lines = [r.getMessage() for r in caplog.records if r.name == "harmwatch.dags"]
    assert lines == [
        "harmwatch: task harmful_content_retrain.validate failed for 2026-01-02 (try 2): exited 3: bad"
    ]
