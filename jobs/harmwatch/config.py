"""Typed settings, read once from ``HARMWATCH_*`` environment variables inside the entry point.

This is the only module that reads the environment. :func:`load_settings` is called once per command
(``harmwatch.cli``); everything else gets the :class:`Settings` object passed in. Local defaults live under
``HARMWATCH_HOME`` (default ``.harmwatch/`` in the working directory) so ``make demo`` and the tests need
no configuration at all; production sets the URIs (``s3://...``, ``http://mlflow:5000``) through a
ConfigMap and secrets through Kubernetes Secrets.

**Fail closed.** Development defaults (the pseudonym key) are allowed only in the embedded local mode:
runner ``local`` with the lake on a local folder (``make demo``, ``make up``, the tests).
:meth:`Settings.refusals` names every secret that is missing outside it (runner ``kubernetes``, which the
job image and the chart set, or a lake on S3); the CLI refuses to run a step then, with one line.

MLflow credentials are MLflow's own variables, ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD``, read here like the ``HARMWATCH_*`` ones (the Secret holds them under these
names; MLflow's client reads the same variables).

:func:`configure_libraries` sets the third-party defaults harmwatch relies on (no telemetry, no analytics,
short MLflow HTTP timeouts), also once, at start-up, before any of those libraries is imported.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from harmwatch.storage import is_remote

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
# The development key of the reporter-id hash: a default only the embedded local mode may use.
DEV_PSEUDONYM_KEY = "harmwatch-local-dev-key"
# A production key's least length: 32 bytes, the output size of the HMAC-SHA-256 it keys.
MIN_KEY_BYTES = 32


def key_id(key: str) -> str:
    """A key's public id: a short HMAC of a fixed label under the key. Equal keys have equal ids, and the
    id tells nothing about the key, so manifests can record which key made their pseudonyms."""
    import hashlib
    import hmac

    raw = key.encode("utf-8", "surrogateescape")
    return "k_" + hmac.new(raw, b"harmwatch pseudonym key id", hashlib.sha256).hexdigest()[:12]


def is_development_key(key: str) -> bool:
    """Whether ``key`` is the development key in any spelling: case, whitespace or a newline added
    (a Secret made with ``echo``), or padded with other characters to pass the length check."""
    squashed = "".join(key.split()).lower()
    return DEV_PSEUDONYM_KEY in squashed


class Settings(BaseSettings):
    """Resolved harmwatch settings. Every field maps to ``HARMWATCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="HARMWATCH_", extra="ignore", populate_by_name=True)

    # -- where things are ---------------------------------------------------------------------------
    home: Path = Field(default=Path(".harmwatch"), description="Root of all local state.")
    landing_uri: str = Field(default="", description="Landing zone: labelled/ and reports/ batches.")
    lake_uri: str = Field(default="", description="Lake: ingested, validated, quarantined data, datasets.")
    reports_uri: str = Field(default="", description="Where HTML/JSON reports (validation, drift) go.")
    mlflow_tracking_uri: str = Field(default="", description="MLflow tracking server or sqlite URI.")
    mlflow_registry_uri: str = Field(default="", description="MLflow registry URI (defaults to tracking).")
    mlflow_artifact_uri: str = Field(default="", description="Artifact root for a local MLflow store.")
    mlflow_ui_url: str = Field(
        default="",
        description="Address people open the MLflow UI at, for links in decisions (default: the tracking "
        "server's URL; none for an embedded store).",
    )
    mlflow_tracking_username: str = Field(
        default="",
        validation_alias=AliasChoices("MLFLOW_TRACKING_USERNAME"),
        description="MLflow user the steps authenticate as (a Secret in production).",
    )
    mlflow_tracking_password: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("MLFLOW_TRACKING_PASSWORD"),
        description="Its password (MLFLOW_TRACKING_PASSWORD; a Secret in production).",
    )
    airflow_home: str = Field(default="", description="AIRFLOW_HOME used by make demo / make up.")
    source_csv: Path = Field(
        default=Path("../shared/data/cyberbullying_tweets.csv"),
        description="Source dataset that `harmwatch simulate` turns into a landing zone.",
    )
    runner: Literal["local", "kubernetes"] = Field(
        default="local",
        description="Where steps run: local (make demo, make up, tests) or kubernetes (job image, chart).",
    )
    # -- what the pipeline does ---------------------------------------------------------------------
    model_name: str = Field(default=MODEL_NAME, description="Registered model name.")
    seed: int = Field(default=42, description="Seed for simulation, splits and bootstrap.")
    pseudonym_key: SecretStr = Field(
        default=SecretStr(DEV_PSEUDONYM_KEY),
        description="Key of the keyed hash that pseudonymises reporter ids (a Secret in production).",
    )
    previous_pseudonym_key: SecretStr = Field(
        default=SecretStr(""),
        description="The key being retired, read only by `harmwatch rotate-key` (a Secret, set for the "
        "rotation and removed after).",
    )
    actor: str = Field(
        default="",
        description="Who is acting, recorded on every alias move (default: the MLflow user, else the Unix "
        "user). The DAGs pass the Airflow user who triggered or approved a run instead.",
    )
    # -- how steps behave ---------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    debug: bool = Field(default=False, description="Print a traceback with an unexpected error.")
    mlflow_attempts: int = Field(default=4, ge=1, description="Attempts to reach MLflow before giving up.")
    mlflow_backoff: float = Field(default=1.0, ge=0, description="First pause between attempts, doubled.")
    mlflow_retry_seconds: float = Field(default=45.0, ge=0, description="No new attempt starts after this.")
    mlflow_request_timeout: int = Field(default=60, ge=1, description="Seconds one MLflow request may take.")
    s3_max_attempts: int = Field(default=4, ge=1, description="Attempts per S3 request (botocore retries).")
    landing_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1,
        description="Largest landing file ingest reads (bytes); a larger one is quarantined whole, unread, "
        "with the reason (the pandas engine streams a file, but a Spark task holds one file's rows).",
    )
    # -- engines: where the data steps run (docs/scaling.md) -----------------------------------------
    engine: Literal["auto", "pandas", "duckdb", "spark"] = Field(
        default="auto",
        description="Engine of ingest, validate and build-dataset: duckdb (one process: ingest parses "
        "each file in Python, validate and build-dataset run their SQL on DuckDB; pandas is another name "
        "for it), spark (the same parsing and SQL on Spark), or auto (Spark once the step's input "
        "exceeds spark_above_bytes).",
    )
    duckdb_memory_limit: str = Field(
        default="1GB",
        description="Memory DuckDB may hold in validate's row checks and build-dataset (beyond it, it "
        "spills to a temporary folder); the process adds its own buffers on top (docs/scaling.md).",
    )
    duckdb_threads: int = Field(
        default=0,
        ge=0,
        description="Threads DuckDB runs with in those steps (0: one per core it sees); each thread "
        "keeps its own buffers within the memory limit.",
    )
    duckdb_incremental_threads: int = Field(
        default=1,
        ge=0,
        description="Threads DuckDB runs with in build-dataset --incremental (0: one per core): a day "
        "folded into the state is small work spread over many short queries, and on two shared cores "
        "a second thread cost about a sixth more CPU at 90 days of history (docs/scaling.md).",
    )
    spark_above_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=0,
        description="Input size (bytes) above which engine=auto picks Spark.",
    )
    spark_master: str = Field(
        default="local[2]",
        description="Spark master for the Spark engine; empty leaves it to spark-submit (SparkApplication).",
    )
    spark_driver_memory: str = Field(
        default="2g", description="Spark driver heap (local mode: all of Spark)."
    )
    spark_shuffle_partitions: int = Field(
        default=8,
        ge=1,
        description="spark.sql.shuffle.partitions when given and Spark's own configuration leaves it unset "
        "(not given: Spark's 200, coalesced to the data's size); build-dataset's Spark engine hashes texts "
        "into 4x as many buckets (at least 8).",
    )
    spark_local_dir: str = Field(default="", description="Spark scratch space (default: <home>/spark).")
    # -- training -----------------------------------------------------------------------------------
    train_row_budget: int = Field(
        default=200_000,
        ge=0,
        description="Most training rows train fits on (stratified, newer posts favoured); 0: no budget.",
    )
    train_half_life_days: float = Field(
        default=90.0,
        gt=0,
        description="Recency of the row budget: a post this many days older than the newest is half as "
        "likely to be kept.",
    )
    label_studio_url: str = Field(
        default="", description="Label Studio, the moderators' review tool (default: the local stack's)."
    )
    label_studio_token: SecretStr = Field(
        default=SecretStr(""), description="Personal access token of the Label Studio account the steps use."
    )
    label_studio_project: str = Field(
        default="harmwatch review", description="Title of the Label Studio project of the review queue."
    )
    fault_kill_at: str = Field(
        default="", description="Crash tests only: SIGKILL at this checkpoint (``name#n``, faults.py)."
    )

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
        self.spark_local_dir = self.spark_local_dir or str(home / "spark")
        if not self.mlflow_ui_url and self.mlflow_tracking_uri.startswith(("http://", "https://")):
            self.mlflow_ui_url = self.mlflow_tracking_uri
        self.mlflow_ui_url = self.mlflow_ui_url.rstrip("/")
        if not self.label_studio_url:
            self._local_label_studio(home / "run" / "labelstudio.json")
        return self

    def _local_label_studio(self, record: Path) -> None:
        """The local stack's Label Studio (``devstack/labelstudio.py`` records its URL and the admin's
        token there, mode 0600) when no server is configured."""
        try:
            found = json.loads(record.read_text())
        except (OSError, ValueError):
            return
        self.label_studio_url = str(found.get("url", ""))
        if not self.label_studio_token.get_secret_value():
            self.label_studio_token = SecretStr(str(found.get("token", "")))

    @property
    def pseudonym_key_id(self) -> str:
        """The pseudonym key's id (:func:`key_id`), recorded in every manifest."""
        return key_id(self.pseudonym_key.get_secret_value())

    @property
    def embedded(self) -> bool:
        """The embedded local mode, the only one where development defaults are allowed."""
        return self.runner == "local" and not is_remote(self.lake_uri)

    def key_refusals(self, where: str) -> list[str]:
        """The pseudonym key's refusal outside the embedded local mode: empty, a development key, short."""
        key = self.pseudonym_key.get_secret_value()
        if key == "":
            return [
                f"HARMWATCH_PSEUDONYM_KEY is not set ({where}): the development key is refused outside the "
                "embedded local mode; set it from a Secret"
            ]
        if is_development_key(key):
            return [
                f"HARMWATCH_PSEUDONYM_KEY is not set ({where}): it is a variant of the development key, "
                "which is refused outside the embedded local mode; set a random key from a Secret"
            ]
        if (size := len(key.encode("utf-8", "surrogateescape"))) < MIN_KEY_BYTES:
            return [
                f"HARMWATCH_PSEUDONYM_KEY is too short ({where}): {size} bytes, at least {MIN_KEY_BYTES} "
                "are needed (e.g. openssl rand -hex 32)"
            ]
        return []

    def refusals(self, command: str | None = None) -> list[str]:
        """One line per secret that is missing outside the embedded local mode (empty: good to go).

        With ``command``, only the secrets that command uses are asked for (:mod:`harmwatch.access`): a
        step pod is given those and no others.
        """
        from harmwatch.access import MLFLOW, PSEUDONYM, uses

        if self.embedded:
            return []
        where = "runner kubernetes" if self.runner == "kubernetes" else f"lake on {self.lake_uri}"
        out = self.key_refusals(where) if uses(command, PSEUDONYM) else []
        stores = {"landing": self.landing_uri, "lake": self.lake_uri, "reports": self.reports_uri}
        remote = {name for name, uri in stores.items() if is_remote(uri)}
        if remote and remote != set(stores):
            local = ", ".join(f"{n} {stores[n]}" for n in stores if n not in remote)
            far = ", ".join(f"{n} {stores[n]}" for n in stores if n in remote)
            out.append(
                f"storage mixes remote and local ({where}): {far} but {local}; a step's local folder is "
                "lost with its pod, so set HARMWATCH_LANDING_URI, HARMWATCH_LAKE_URI and "
                "HARMWATCH_REPORTS_URI all on S3 (or all local, with runner local)"
            )
        servers = [u for u in (self.mlflow_tracking_uri, self.mlflow_registry_uri) if "://" in u]
        if (
            uses(command, MLFLOW)
            and any(u.startswith(("http://", "https://")) for u in servers)
            and not (self.mlflow_tracking_username and self.mlflow_tracking_password.get_secret_value())
        ):
            out.append(
                f"MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD are not set ({where}): steps do not "
                f"call {self.mlflow_tracking_uri} anonymously; set them from a Secret"
            )
        return out

    def acting_user(self) -> str:
        """Who is acting, for audit tags: ``actor``, else the MLflow user the steps authenticate as (when
        the registry is a server), else the Unix user of the process."""
        if self.actor:
            return self.actor
        if self.mlflow_tracking_username and not self.mlflow_registry_uri.startswith("sqlite"):
            return self.mlflow_tracking_username
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # no passwd entry for the UID (a container's arbitrary user)
            return "unknown"

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


class _GivenSettings(Settings):
    """Settings from given values only (no environment): what :func:`settings_for` builds."""

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, **_sources: Any) -> tuple:
        return (init_settings,)


def settings_for(environ: Mapping[str, str]) -> Settings:
    """The settings a harmwatch command started with ``environ`` would read (for tools that start steps
    with an environment of their own, such as the development stack); this process's environment is not
    consulted."""
    names = {}
    for name, field in Settings.model_fields.items():
        aliases = getattr(field.validation_alias, "choices", None) or [f"HARMWATCH_{name.upper()}"]
        names.update({str(alias): name for alias in aliases})
    values = {names[k]: v for k, v in environ.items() if k in names}
    return _GivenSettings(**values)


def configure_libraries(settings: Settings) -> None:
    """Third-party defaults, set once at start-up and inherited by every process a step starts.

    - No usage data leaves the machine: MLflow's telemetry (on by default since 3.2) and Great
      Expectations' analytics are off.
    - MLflow's own HTTP retries default to minutes of backoff and a 120 s read timeout. Each request is kept
      short instead (2 retries, backoff factor 1 s, about 3 s against a refused connection), and
      :func:`harmwatch.registry.configure_mlflow` backs off around whole calls within the settings' budget.
      A request may take ``mlflow_request_timeout`` seconds: a loaded server writing a model can be slow,
      but a hung one is not waited on for the default's retries x 2 minutes.
    - No progress bars: a step's stderr is its one-line error, not a download's progress.
    - OpenBLAS on one thread. Its second thread made no step faster and cost CPU: 1.7 to 3.4 of a fit's
      13 to 19 CPU-seconds, nearly all in the SGD learners' fits, and 1 of drift's 8.7, with the same
      predictions bit for bit (docs/benchmarks.md); on a pod with a CPU limit that is throttled time. It
      takes effect only where OpenBLAS is not loaded yet: the CLI calls this before anything imports
      NumPy (a test checks), and every process a step starts inherits it.

    A value already in the environment wins, so an operator can still override any of them.
    """
    defaults = {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "GX_ANALYTICS_ENABLED": "False",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(settings.mlflow_request_timeout),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "OPENBLAS_NUM_THREADS": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Settings given in code (not from the environment) still reach MLflow's client, which reads these.
    if settings.mlflow_tracking_username:
        os.environ.setdefault("MLFLOW_TRACKING_USERNAME", settings.mlflow_tracking_username)
        password = settings.mlflow_tracking_password.get_secret_value()
        os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", password)


def spark_launch_env() -> dict[str, str | None]:
    """What spark-submit and PySpark's launcher hand a Python driver through the environment: the
    gateway port of a JVM already up, the configuration folder, and the submit arguments (``None``
    where unset). Read here so that the environment has one reader."""
    return {
        "gateway_port": os.environ.get("PYSPARK_GATEWAY_PORT"),
        "conf_dir": os.environ.get("SPARK_CONF_DIR"),
        "submit_args": os.environ.get("PYSPARK_SUBMIT_ARGS"),
    }


def configure_spark() -> None:
    """Spark's Python workers run this interpreter (PySpark reads ``PYSPARK_PYTHON`` when a session
    starts; a worker of another minor version refuses to run). A value already set wins."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
