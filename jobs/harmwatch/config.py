"""Typed settings, read once from ``HARMWATCH_*`` environment variables inside the entry point.

Nothing here runs at import time: call :func:`load_settings` from a command. Local defaults live under
``HARMWATCH_HOME`` (default ``.harmwatch/`` in the working directory) so ``make demo`` and the tests
need no configuration at all; production sets the URIs (``s3://...``, ``http://mlflow:5000``) through a
ConfigMap and secrets through Kubernetes Secrets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CLASSES: tuple[str, ...] = (
    "age",
    "ethnicity",
    "gender",
    "religion",
    "other_cyberbullying",
    "not_cyberbullying",
)
HARMFUL_CLASSES: tuple[str, ...] = tuple(c for c in CLASSES if c != "not_cyberbullying")
BENIGN_CLASS = "not_cyberbullying"
MODEL_NAME = "harmful-content"
ALIASES = ("champion", "challenger", "previous-champion")


class Settings(BaseSettings):
    """Resolved harmwatch settings. Every field maps to ``HARMWATCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="HARMWATCH_", extra="ignore")

    home: Path = Field(default=Path(".harmwatch"), description="Root of all local state.")
    landing_uri: str = Field(default="", description="Landing zone: labelled/ and reports/ batches.")
    lake_uri: str = Field(default="", description="Lake: ingested, validated, quarantined data, datasets.")
    reports_uri: str = Field(default="", description="Where HTML/JSON reports (validation, drift) go.")
    mlflow_tracking_uri: str = Field(default="", description="MLflow tracking server or sqlite URI.")
    mlflow_registry_uri: str = Field(default="", description="MLflow registry URI (defaults to tracking).")
    mlflow_artifact_uri: str = Field(default="", description="Artifact root for a local MLflow server.")
    airflow_home: str = Field(default="", description="AIRFLOW_HOME used by make demo / make up.")
    source_csv: Path = Field(
        default=Path("../shared/data/cyberbullying_tweets.csv"),
        description="Source dataset that `harmwatch simulate` turns into a landing zone.",
    )
    model_name: str = Field(default=MODEL_NAME, description="Registered model name.")
    runner: Literal["local", "kubernetes"] = Field(default="local", description="How DAG tasks run.")
    image: str = Field(default="registry.example.com/harmwatch/job:0.1.0", description="Job image.")
    namespace: str = Field(default="harmwatch", description="Namespace of step pods.")
    service_account: str = Field(default="harmwatch-job", description="Service account of step pods.")
    configmap: str = Field(default="harmwatch-config", description="ConfigMap holding HARMWATCH_*.")
    secret_name: str = Field(default="harmwatch-secrets", description="Secret with credentials.")
    pseudonym_key: SecretStr = Field(
        default=SecretStr("harmwatch-local-dev-key"),
        description="Key of the keyed hash that pseudonymises reporter ids (a Secret in production).",
    )
    seed: int = Field(default=42, description="Seed for simulation, splits and bootstrap.")

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        home = self.home.expanduser()
        if not home.is_absolute():
            home = (Path.cwd() / home).resolve()
        self.home = home
        self.landing_uri = self.landing_uri or str(home / "landing")
        self.lake_uri = self.lake_uri or str(home / "lake")
        self.reports_uri = self.reports_uri or str(home / "reports")
        self.mlflow_artifact_uri = self.mlflow_artifact_uri or str(home / "mlflow" / "artifacts")
        self.mlflow_tracking_uri = self.mlflow_tracking_uri or f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        self.mlflow_registry_uri = self.mlflow_registry_uri or self.mlflow_tracking_uri
        self.airflow_home = self.airflow_home or str(home / "airflow")
        return self

    def public_dict(self) -> dict[str, Any]:
        """Settings as JSON-friendly values, secrets masked."""
        out: dict[str, Any] = {}
        for name, value in self:
            if isinstance(value, SecretStr):
                out[name] = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out

    def to_json(self) -> str:
        return json.dumps(self.public_dict(), indent=2, sort_keys=True)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword overrides (e.g. CLI options) win."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
