"""Models load only as written: flavour, format and digest are checked before anything is deserialised.

A registered version is a folder of files in the artifact store. Loading it through MLflow's pyfunc loader
runs whatever that folder asks for: a ``python_model`` pickled with cloudpickle, ``code`` paths imported
into the process, or skops types the folder itself declares trusted. Anyone with EDIT on the model, or
write access to the artifact store, could then run code in a step pod that holds the pipeline's
secrets. So every step loads a version through :func:`load_model_dir`:

1. the ``MLmodel`` file must describe what ``harmwatch train`` writes and nothing else: the ``sklearn``
   flavour saved with skops, the pyfunc loader ``mlflow.sklearn``, no ``code`` paths, no
   ``python_model``;
2. the folder's digest (every file's path and bytes) must equal the one recorded on the version when it
   was registered, so a file changed in the artifact store afterwards is refused;
3. skops deserialises with the trusted-types list from this code (:data:`TRUSTED_TYPES`), never the list
   the artifact declares, and refuses a file naming any other type before building it.

A refusal is :class:`UntrustedModel`: one line naming the version, and the step fails without running it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harmwatch.errors import HarmwatchError
from harmwatch.model.textmodel import SKOPS_TRUSTED_TYPES

DIGEST_TAG = "harmwatch.model_sha256"
# The module path of the classes in models saved before format 4 (see harmwatch.textmodel).
LEGACY_TYPES = [t.replace("harmwatch.model.textmodel.", "harmwatch.textmodel.") for t in SKOPS_TRUSTED_TYPES]
TRUSTED_TYPES: list[str] = sorted({*SKOPS_TRUSTED_TYPES, *LEGACY_TYPES})


class UntrustedModel(HarmwatchError):
    """A model version that is not what harmwatch registered; nothing of it was deserialised."""


def model_digest(folder: Path, model_file: str) -> str:
    """SHA-256 over the two files a load reads, ``MLmodel`` and the skops file: each name and its bytes.

    The rest of the folder (requirements, input examples, the ``registered_model_meta`` MLflow adds to a
    download) is never read when loading, so it is not part of the digest.
    """
    digest = hashlib.sha256()
    for name in ("MLmodel", model_file):
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise UntrustedModel(f"{folder}: {name} is missing or not a plain file")
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                file_digest.update(block)
        digest.update(name.encode() + b"\0" + file_digest.digest())
    return digest.hexdigest()


def read_mlmodel(folder: Path, label: str) -> dict[str, Any]:
    import yaml

    try:
        mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UntrustedModel(
            f"{label} has no readable MLmodel file ({exc.__class__.__name__}); not loaded"
        ) from None
    return mlmodel if isinstance(mlmodel, dict) else {}


def digest_of_saved_model(folder: Path, label: str) -> str:
    """The digest to record at registration, for a model folder ``harmwatch train`` has just logged."""
    return model_digest(folder, skops_file(read_mlmodel(folder, label), label))


def skops_file(mlmodel: dict[str, Any], label: str) -> str:
    """The skops file the ``MLmodel`` description names, if it describes a model harmwatch writes."""
    flavors = mlmodel.get("flavors") or {}
    sklearn = flavors.get("sklearn") or {}
    pyfunc = flavors.get("python_function") or {}
    problems = []
    if set(flavors) - {"sklearn", "python_function"}:
        problems.append(f"flavours {sorted(set(flavors) - {'sklearn', 'python_function'})}")
    if sklearn.get("serialization_format") != "skops":
        problems.append(f"serialization format {sklearn.get('serialization_format')!r}, not skops")
    if pyfunc.get("loader_module") != "mlflow.sklearn":
        problems.append(f"pyfunc loader {pyfunc.get('loader_module')!r}, not mlflow.sklearn")
    if sklearn.get("code") or pyfunc.get("code") or {"python_model", "cloudpickle_version"} & set(pyfunc):
        problems.append("code or a pickled python_model")
    name = sklearn.get("pickled_model")
    if not isinstance(name, str) or "/" in name or name.startswith(".") or pyfunc.get("model_path") != name:
        problems.append(f"model file {name!r}")
    if problems:
        raise UntrustedModel(f"{label} is not a model harmwatch writes: {'; '.join(problems)}; not loaded")
    return name


def check_model_dir(folder: Path, expected_digest: str | None, label: str) -> Path:
    """The skops file of ``folder`` once the three checks of this module pass; nothing is deserialised."""
    from skops.io import get_untrusted_types

    if not expected_digest:
        raise UntrustedModel(f"{label} has no digest recorded at registration ({DIGEST_TAG}); not loaded")
    name = skops_file(read_mlmodel(folder, label), label)
    actual = model_digest(folder, name)
    if actual != expected_digest:
        raise UntrustedModel(
            f"{label}: its files do not match the digest recorded at registration "
            f"({actual[:12]}… != {expected_digest[:12]}…); not loaded"
        )
    path = folder / name
    try:
        untrusted = sorted(set(get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    except Exception as exc:  # skops reads the file's schema only; anything it cannot read is refused
        raise UntrustedModel(
            f"{label}: its skops file cannot be read ({exc.__class__.__name__}); not loaded"
        ) from None
    if untrusted:
        names = ", ".join(untrusted)
        raise UntrustedModel(f"{label} names types harmwatch does not trust: {names}; not loaded")
    return path


def load_model_dir(folder: Path, expected_digest: str | None, label: str) -> Any:
    """The fitted pipeline saved in ``folder``, after the three checks of this module (see above)."""
    from skops.io import load

    return load(check_model_dir(folder, expected_digest, label), trusted=TRUSTED_TYPES)
