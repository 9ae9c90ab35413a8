"""MLflow wiring shared by train, evaluate, promote, rollback, score and drift.

One place knows the URIs, the experiment, the retry policy, and how a model is resolved: always through
an alias of the registered model (``champion``, ``challenger``, ``previous-champion``), never by
"latest version" or by sorting runs. ``mlflow`` is imported inside the functions so that importing this
module (e.g. from a DAG file or ``harmwatch info``) stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmwatch.config import Settings
from harmwatch.errors import HarmwatchError, ServiceUnavailable

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

EXPERIMENT = "harmwatch"
# Registry lookups that mean "no such alias/model", as opposed to an outage.
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}
_DENIED = {"PERMISSION_DENIED", "UNAUTHENTICATED"}


def access_refused(settings: Settings, exc: BaseException) -> HarmwatchError | None:
    """The one-line error for credentials the MLflow server refuses (401) or a permission it denies (403)."""
    code = getattr(exc, "error_code", "")
    if code not in _DENIED and not any(f"error code {n} " in str(exc) for n in (401, 403)):
        return None
    user = settings.mlflow_tracking_username or "(none: MLFLOW_TRACKING_USERNAME is not set)"
    if code == "UNAUTHENTICATED" or "error code 401 " in str(exc):
        return HarmwatchError(
            f"MLflow at {settings.mlflow_tracking_uri} refused the credentials of user {user} "
            "(MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD)"
        )
    return HarmwatchError(
        f"MLflow at {settings.mlflow_tracking_uri} denied user {user} ({describe_failure(exc)}); an admin "
        "grants the pipeline's access with `harmwatch mlflow-access`"
    )


def is_local_uri(uri: str) -> bool:
    """True for an embedded store (sqlite/file): the experiment's artifact root is ours to choose."""
    return not uri.startswith(("http://", "https://", "databricks"))


def _artifact_location(settings: Settings) -> str:
    uri = settings.mlflow_artifact_uri
    if "://" in uri:
        return uri
    path = Path(uri).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


def _ensure_experiment(client: MlflowClient, settings: Settings) -> str:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        location = _artifact_location(settings) if is_local_uri(settings.mlflow_tracking_uri) else None
        return client.create_experiment(EXPERIMENT, artifact_location=location)
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def retry_policy(settings: Settings) -> tuple[int, float, float]:
    """(attempts, first pause in seconds, total budget in seconds) for reaching MLflow.

    ``mlflow_attempts`` (4), ``mlflow_backoff`` (1 s, doubled after each failure) and
    ``mlflow_retry_seconds`` (45 s: no new attempt starts after that) bound how long a step waits for an
    MLflow server that does not answer. Each attempt is itself a few HTTP requests that MLflow's client
    retries (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, 2 here, backoff factor 1 s; see
    :func:`harmwatch.config.configure_libraries`): a refused connection fails a step in about 20 s. A
    server that accepts but never answers is bounded by ``mlflow_request_timeout`` (60 s) per request.
    """
    return settings.mlflow_attempts, settings.mlflow_backoff, settings.mlflow_retry_seconds


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


_OUTAGE_MARKERS = (
    "Max retries exceeded",
    "Connection refused",
    "Connection aborted",
    "Connection reset",
    "RemoteDisconnected",
    "Failed to establish a new connection",
    "timed out",
    "failed with timeout exception",
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_outage(exc: BaseException, mlflow_only: bool = False) -> bool:
    """True when ``exc`` (or what caused it) means the server could not be reached or stopped answering.

    MLflow wraps connection failures in ``MlflowException("API request to ... failed with exception ...")``
    raised while handling the ``requests`` error, so both the chain and the message are checked. With
    ``mlflow_only`` the failure must have come through MLflow's client (an ``MlflowException`` in the chain).
    """
    import requests

    chain = list(_chain(exc))
    mlflow_errors = getattr(sys.modules.get("mlflow.exceptions"), "MlflowException", ())
    if mlflow_only and not any(isinstance(e, mlflow_errors) or "API request to" in str(e) for e in chain):
        return False
    for current in chain:
        if isinstance(
            current,
            (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError),
        ):
            return True
        text = str(current)
        if "API request to" in text and any(m in text for m in _OUTAGE_MARKERS):
            return True
    return False


def describe_failure(exc: BaseException) -> str:
    """Short text for a failed MLflow call: what happened and which endpoint, e.g.
    ``connection refused (/api/2.0/mlflow/experiments/get-by-name)``."""
    import re

    text = " ".join(str(e) for e in (exc, exc.__cause__, exc.__context__) if e is not None)
    if "Connection refused" in text or "Failed to establish" in text:
        what = "connection refused"
    elif "timed out" in text or "timeout" in text.lower():
        what = "no answer within the timeout"
    elif is_outage(exc):
        what = "connection dropped"
    else:
        what = _first_line(exc)
    call = re.search(r"API request to https?://[^/\s]+(/\S*?)/? failed", text)
    return what + (f" ({call.group(1)})" if call else "")


def unavailable(settings: Settings, exc: BaseException) -> ServiceUnavailable:
    """The one-line error for an MLflow server that cannot be reached (names the server URL)."""
    what = describe_failure(exc)
    return ServiceUnavailable(
        f"MLflow at {settings.mlflow_tracking_uri} unreachable: {what}; the step can be rerun once it answers"
    )


@contextlib.contextmanager
def mlflow_calls(settings: Settings) -> Iterator[None]:
    """Turn an MLflow outage in the middle of a step into :class:`ServiceUnavailable` (one line, exit 4)."""
    try:
        yield
    except HarmwatchError:
        raise
    except Exception as exc:
        if is_outage(exc):
            raise unavailable(settings, exc) from None
        refused = access_refused(settings, exc)
        if refused is not None:
            raise refused from None
        raise


def configure_mlflow(settings: Settings) -> MlflowClient:
    """Point MLflow at the settings' tracking/registry URIs and make sure experiment ``harmwatch`` exists.

    With a local sqlite store the experiment's artifacts go to ``settings.mlflow_artifact_uri``; with an
    HTTP server the server's default artifact root is used. Connection problems are retried with
    exponential backoff within :func:`retry_policy`, then reported as one line (:class:`ServiceUnavailable`).
    """
    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # our retry warning says it once
    attempts, backoff, budget = retry_policy(settings)
    tracking, registry = settings.mlflow_tracking_uri, settings.mlflow_registry_uri
    for uri in {tracking, registry}:
        if uri.startswith("sqlite:///"):
            Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)
    client = MlflowClient(tracking_uri=tracking, registry_uri=registry)
    deadline = time.monotonic() + budget
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            experiment_id = _ensure_experiment(client, settings)
            client.search_registered_models(max_results=1)  # the registry answers too
            break
        except Exception as exc:
            refused = access_refused(settings, exc)
            if refused is not None:  # waiting does not help
                raise refused from None
            pause = backoff * 2 ** (attempt - 1)
            if attempt >= attempts or time.monotonic() + pause > deadline:
                raise unavailable(settings, exc) from None
            log.warning(
                "MLflow at %s not answering (attempt %d/%d, next in %.1fs): %s",
                tracking,
                attempt,
                attempts,
                pause,
                describe_failure(exc),
            )
            time.sleep(pause)
    mlflow.set_experiment(experiment_id=experiment_id)
    return client


def get_alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The model version carrying ``alias``, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            return None
        # With the basic-auth app a model that does not exist is "permission denied" (no grant names it).
        if exc.error_code == "PERMISSION_DENIED" and not _model_exists(client, name):
            return None
        raise


def _model_exists(client: MlflowClient, name: str) -> bool:
    quoted = name.replace("'", "\\'")
    return bool(client.search_registered_models(filter_string=f"name = '{quoted}'", max_results=1))


def require_alias_version(client: MlflowClient, settings: Settings, alias: str) -> ModelVersion:
    """Like :func:`get_alias_version` but a missing alias is a one-line, actionable error."""
    version = get_alias_version(client, settings.model_name, alias)
    if version is None:
        raise HarmwatchError(
            f"no version of model {settings.model_name!r} has alias {alias!r} at "
            f"{settings.mlflow_registry_uri}; run `harmwatch train` (challenger) or `harmwatch promote` first"
        )
    return version


def version_uri(name: str, version: str | int) -> str:
    return f"models:/{name}/{version}"


def load_model_version(settings: Settings, alias: str = "champion") -> tuple[Any, ModelVersion]:
    """Resolve ``alias`` once and load exactly that version, so the caller can report what it used."""
    client = configure_mlflow(settings)
    version = require_alias_version(client, settings, alias)
    return load_registered(version_uri(settings.model_name, version.version)), version


MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w.-]+))/?$")


def download_verified(uri: str, dest: Path) -> tuple[Path, str, str]:
    """Download a registered version into a folder of ``dest`` and check it without deserialising it
    (:mod:`harmwatch.model.trusted`): (the folder, its recorded digest, a label naming the version)."""
    import mlflow.artifacts
    from mlflow import MlflowClient

    from harmwatch.model import trusted

    match = MODEL_URI.match(uri)
    if not match:
        raise trusted.UntrustedModel(
            f"{uri}: only registered model versions load (models:/<name>/<version> or models:/<name>@<alias>)"
        )
    client = MlflowClient()
    name = match["name"]
    if match["version"]:
        version = client.get_model_version(name, match["version"])
    else:
        version = client.get_model_version_by_alias(name, match["alias"])
    label = f"model {name!r} version {version.version}"
    target = dest / f"{name}-v{version.version}"
    target.mkdir(parents=True, exist_ok=True)
    local = mlflow.artifacts.download_artifacts(version_uri(name, version.version), dst_path=str(target))
    folder = Path(local)
    digest = version.tags.get(trusted.DIGEST_TAG)
    trusted.check_model_dir(folder, digest, label)
    return folder, digest, label


def load_registered(uri: str) -> Any:
    """A registered version (``models:/name/version`` or ``models:/name@alias``), loaded only as written:
    flavour, format and the digest recorded at registration are checked before anything is deserialised,
    and skops trusts only the types this code names (:mod:`harmwatch.model.trusted`)."""
    from harmwatch.model import trusted

    with tempfile.TemporaryDirectory(prefix="harmwatch-model-") as tmp:
        folder, digest, label = download_verified(uri, Path(tmp))
        return trusted.load_model_dir(folder, digest, label)


def saved_model_digest(model_uri: str) -> str:
    """The digest of a model ``harmwatch train`` has just logged, recorded on its version."""
    import mlflow.artifacts

    from harmwatch.model import trusted

    with tempfile.TemporaryDirectory(prefix="harmwatch-model-") as tmp:
        folder = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=tmp))
        return trusted.digest_of_saved_model(folder, model_uri)


def champion(settings: Settings) -> tuple[MlflowClient | None, ModelVersion | None]:
    """The registry client and the version holding alias ``champion`` (None when there is none).

    A local SQLite registry that does not exist yet means "no champion" and is not created (the client is
    None then). An outage is one line (:class:`ServiceUnavailable`).
    """
    uri = settings.mlflow_registry_uri
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        return None, None
    with mlflow_calls(settings):
        client = configure_mlflow(settings)
        return client, get_alias_version(client, settings.model_name, "champion")


def set_version_tags(client: MlflowClient, name: str, version: str, tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value))


def champion_record(client: MlflowClient, name: str) -> dict[str, Any] | None:
    """The champion's record (:mod:`harmwatch.model.audit`), None when the model or the record is missing."""
    from mlflow.exceptions import MlflowException

    from harmwatch.model import audit

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            return None
        if exc.error_code == "PERMISSION_DENIED" and not _model_exists(client, name):
            return None
        raise
    return audit.load(model.tags.get(audit.RECORD_TAG))


def write_champion_record(client: MlflowClient, name: str, rec: dict[str, Any]) -> None:
    from harmwatch.model import audit

    client.set_registered_model_tag(name, audit.RECORD_TAG, audit.dump(rec))


def reconcile_champion(
    client: MlflowClient, settings: Settings, noticed_by: str, date: str | None
) -> dict[str, Any] | None:
    """Notice a champion set outside harmwatch and record it (:func:`harmwatch.model.audit.plan_reconcile`):
    tags on the new champion, ``previous-champion`` on the one harmwatch knew, the record updated. Returns
    what was recorded (None when the champion is where harmwatch left it)."""
    from harmwatch.model.audit import OUTSIDE, plan_reconcile

    name = settings.model_name
    champion = get_alias_version(client, name, "champion")
    if champion is None:
        return None
    previous = get_alias_version(client, name, "previous-champion")
    plan = plan_reconcile(
        str(champion.version),
        champion.tags.get("harmwatch.promoted_by"),
        champion_record(client, name),
        str(previous.version) if previous is not None else None,
        noticed_by,
        date,
    )
    if plan is None:
        return None
    if plan.champion_tags:
        from harmwatch.model.summary import with_status

        log.warning("%s", plan.why)
        set_version_tags(client, name, str(champion.version), plan.champion_tags)
        status = f"**Champion set outside harmwatch**: {plan.why}"
        client.update_model_version(name, str(champion.version), with_status(champion.description, status))
    if plan.previous_champion:
        client.set_registered_model_alias(name, "previous-champion", plan.previous_champion)
    write_champion_record(client, name, plan.record)
    return {
        "champion_version": str(champion.version),
        "set_outside_harmwatch": plan.record.get("by") == OUTSIDE and bool(plan.champion_tags),
        "previous_champion_version": plan.previous_champion,
        "why": plan.why,
    }
