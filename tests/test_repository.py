"""Repository hygiene that reviewers would otherwise check by hand: lint, format, importable modules."""

from __future__ import annotations

import subprocess

from tests.conftest import REPO, VENV_BIN


def test_ruff_lint_and_format_are_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([str(VENV_BIN / "ruff"), *args], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, f"ruff {' '.join(args)}:\n{proc.stdout[-3000:]}{proc.stderr[-1000:]}"


def test_no_module_edits_the_import_path():
    """Everything is imported as a package (harmwatch, devstack, bench, tests) or through pytest's
    ``pythonpath`` (the DAG helper), never by inserting into ``sys.path``."""
    needle = "sys.path." + "insert"  # spelled apart so this file does not match itself
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for top in ("jobs", "dags", "devstack", "bench", "scripts", "tests")
        for path in (REPO / top).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if needle in line
    ]
    assert offenders == []
