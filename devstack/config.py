"""The development stack's own settings: ports and switches of `make up`, where the shared data lives.

These ``HARMWATCH_*`` variables configure only the local stack (never a step); the steps' settings are
:class:`harmwatch.config.Settings`. Read once, where a stack is started.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class StackConfig:
    """Each field is the variable ``HARMWATCH_<FIELD>``."""

    airflow_port: int = 8080  # Airflow UI and API of make up
    mlflow_port: int = 5000  # MLflow UI of make up
    label_studio_port: int = 8090  # Label Studio (the moderators' review tool) of make up
    dashboard_port: int = 8095  # the platform over time (Evidently UI, devstack/dashboard.py) of make up
    airflow_schedules: bool = False  # make up: run the DAGs' daily schedules (off: runs start when triggered)
    # make up: start Label Studio and the dashboard. Off, the stack is Airflow and MLflow only: the two
    # are about half of make up's start on an empty home (28 of 54 s, measured on 2 busy cores), and
    # nothing but the review DAG and the moderators needs Label Studio.
    up_label_studio: bool = True
    up_dashboard: bool = True
    shared_dir: Path = REPO.parent / "shared"  # the real data beside the checkout (data/, schemas/)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackConfig:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"HARMWATCH_{f.name.upper()}", "")
            if not raw:
                continue
            kind = type(getattr(cls, f.name))
            values[f.name] = (
                raw.strip().lower() in ("1", "true", "yes")
                if kind is bool
                else Path(raw).expanduser().resolve()
                if issubclass(kind, Path)
                else kind(raw)
            )
        return cls(**values)

    def as_env(self) -> dict[str, str]:
        """The same settings as variables, for the shells and processes a stack starts."""
        return {f"HARMWATCH_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}
