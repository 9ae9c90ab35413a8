"""Models load only as written: a planted or tampered model is refused before anything of it is deserialised.

The unit tests save small scikit-learn models the way ``harmwatch train`` does (the sklearn flavour with
skops) and check :mod:`harmwatch.model.trusted` on them. The command tests register a real model, then
plant a cloudpickle "model" whose unpickling runs a payload, and tamper with a registered artifact, and
show that ``harmwatch score`` refuses both in one line naming the version, with the payload never run.
"""

from __future__ import annotations

import operator
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from harmwatch.model import trusted

ROWS = np.array([[0.0], [1.0], [2.0], [3.0]])


def save(folder: Path, steps: list) -> Path:
    import mlflow.sklearn

    pipeline = make_pipeline(*steps).fit(ROWS, [0, 0, 1, 1])
    untrusted = ["_operator.neg"] if any(isinstance(s, FunctionTransformer) for s in steps) else None
    mlflow.sklearn.save_model(
        pipeline,
        str(folder),
        serialization_format="skops",
        skops_trusted_types=untrusted,
        pip_requirements=["scikit-learn"],  # listed: inferring them would load the model in a subprocess
    )
    return folder


def test_a_model_saved_as_harmwatch_saves_it_loads(tmp_path):
    folder = save(tmp_path / "m", [LogisticRegression()])
    digest = trusted.digest_of_saved_model(folder, "m")
    model = trusted.load_model_dir(folder, digest, "model 'm' version 1")
    assert model.predict([[3.0]]).tolist() == [1]


def test_a_changed_byte_is_refused(tmp_path):
    folder = save(tmp_path / "m", [LogisticRegression()])
    digest = trusted.digest_of_saved_model(folder, "m")
    skops = folder / "model.skops"
    data = bytearray(skops.read_bytes())
    data[len(data) // 2] ^= 0xFF
    skops.write_bytes(bytes(data))
    with pytest.raises(trusted.UntrustedModel, match="version 7: its files do not match the digest"):
        trusted.load_model_dir(folder, digest, "model 'm' version 7")


def test_no_recorded_digest_is_refused(tmp_path):
    folder = save(tmp_path / "m", [LogisticRegression()])
    with pytest.raises(trusted.UntrustedModel, match="no digest recorded at registration"):
        trusted.load_model_dir(folder, None, "model 'm' version 2")


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ({"sklearn": {"serialization_format": "cloudpickle"}}, "serialization format 'cloudpickle'"),
        ({"python_function": {"loader_module": "mlflow.pyfunc.model"}}, "pyfunc loader"),
        ({"python_function": {"code": "code"}}, "code or a pickled python_model"),
        ({"python_function": {"python_model": "python_model.pkl"}}, "code or a pickled python_model"),
        ({"sklearn": {"pickled_model": "../x.skops"}}, "model file"),
    ],
)
def test_a_description_harmwatch_does_not_write_is_refused(tmp_path, edit, why):
    folder = save(tmp_path / "m", [LogisticRegression()])
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    for flavour, fields in edit.items():
        mlmodel["flavors"][flavour].update(fields)
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    # Even with the digest of the changed folder recorded, the description itself is refused.
    with pytest.raises(trusted.UntrustedModel, match=why):
        trusted.load_model_dir(folder, "0" * 64, "model 'm' version 3")


def test_types_trusted_by_the_artifact_are_not_trusted(tmp_path):
    """The artifact declares a function trusted; the loader goes by the code's list and refuses it."""
    folder = save(tmp_path / "m", [FunctionTransformer(operator.neg), LogisticRegression()])
    assert "_operator.neg" in (folder / "MLmodel").read_text()
    digest = trusted.model_digest(folder, "model.skops")
    with pytest.raises(trusted.UntrustedModel, match=r"does not trust: .*_operator\.neg"):
        trusted.load_model_dir(folder, digest, "model 'm' version 4")


class Payload:
    """Unpickling this runs code: what a cloudpickle "model" can do to whoever loads it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


@pytest.mark.model
def test_planted_and_tampered_models_are_refused_by_the_steps(hw_env, source_csv, tmp_path):
    import mlflow
    import mlflow.pyfunc

    from harmwatch.config import load_settings
    from harmwatch.registry import configure_mlflow
    from tests.conftest import run_cli
    from tests.model.conftest import write_validated_lake

    settings = load_settings()
    write_validated_lake(source_csv, settings.lake_uri, days=1, limit=2500)
    for step in (["build-dataset"], ["train", "--n-jobs", "1"]):
        proc = run_cli(*step)
        assert proc.returncode == 0, proc.stderr[-2000:]
    (tmp_path / "in.csv").write_text("text\nyou stupid idiot\nwhat a lovely morning\n")
    score = ["score", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv")]
    ok = run_cli(*score, "--alias", "challenger")
    assert ok.returncode == 0, ok.stderr[-2000:]

    # Anyone with EDIT on the model registers a cloudpickle "model" and points an alias at it.
    client = configure_mlflow(settings)
    marker = tmp_path / "payload-ran"

    class Planted(mlflow.pyfunc.PythonModel):
        def __reduce__(self):
            return Payload(marker).__reduce__()

    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=Planted())
    planted = mlflow.register_model(info.model_uri, settings.model_name)
    client.set_model_version_tag(settings.model_name, planted.version, trusted.DIGEST_TAG, "f" * 64)
    client.set_registered_model_alias(settings.model_name, "challenger", planted.version)

    # The plant is real: MLflow's own loader runs its payload.
    env = {**os.environ, "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri}
    uri = f"models:/{settings.model_name}/{planted.version}"
    subprocess.run(
        [sys.executable, "-c", f"import mlflow.pyfunc; mlflow.pyfunc.load_model({uri!r})"],
        env=env,
        capture_output=True,
        check=False,
    )
    assert marker.exists(), "the planted model should run its payload under mlflow.pyfunc.load_model"
    marker.unlink()

    refused = run_cli(*score, "--alias", "challenger")
    assert refused.returncode != 0 and not marker.exists()
    line = refused.stderr.strip()
    assert line.count("\n") == 0 and f"version {planted.version}" in line and "not a model harmwatch" in line

    # A byte changed in the registered artifact after registration.
    location = client.get_model_version_download_uri(settings.model_name, "1")
    skops = Path(location.removeprefix("file://")) / "model.skops"
    data = bytearray(skops.read_bytes())
    data[-100] ^= 0xFF
    skops.write_bytes(bytes(data))
    client.set_registered_model_alias(settings.model_name, "challenger", "1")
    tampered = run_cli(*score, "--alias", "challenger")
    line = tampered.stderr.strip()
    assert tampered.returncode != 0 and line.count("\n") == 0
    assert "version 1" in line and "do not match the digest" in line
