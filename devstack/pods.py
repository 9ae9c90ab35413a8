"""Run a step pod, exactly as the DAG's KubernetesPodOperator builds it, under Podman (``podman kube play``).

There is no Kubernetes API server on a developer machine or in CI here. What the operator would send is
played by Podman instead, with as few changes as this machine needs, each listed in :func:`for_podman`:

- ``hostNetwork: true``, only when asked (``host_network``): the MLflow and S3-compatible servers a
  test starts listen on the host's 127.0.0.1, where a cluster would give them Services.
- fields Podman has no use for on one node are dropped: ``imagePullSecrets`` (images are local),
  ``serviceAccountName`` and ``automountServiceAccountToken`` (no API server to talk to).

Everything else is played as built: image, command and arguments, ``envFrom`` the ConfigMap
(``--configmap``) and the Secret (a Podman secret holding the Secret's data), UID/GID 10001, a read-only
root filesystem with only the declared ``emptyDir`` volumes writable, no capabilities, no privilege
escalation, resource limits, labels, and the XCom sidecar. After the step container exits, the XCom is
read the way the operator reads it: the sidecar's own shell prints ``/airflow/xcom/return.json`` (same
command as the provider's ``PodManager.extract_xcom_json``), then the sidecar is told to stop, and the pod
is removed (``on_finish_action=delete_pod``).
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devstack.images import podman

BASE = "base"  # the provider's name for the step's container
SIDECAR = "airflow-xcom-sidecar"
EMPTY_XCOM = "__airflow_xcom_result_empty__"
XCOM_READ = (
    f"if [ -s /airflow/xcom/return.json ]; then cat /airflow/xcom/return.json; else echo {EMPTY_XCOM}; fi"
)
XCOM_KILL = "kill -2 $(pgrep -u $(id -u) -f 'sh')"
XCOM_KILL_FALLBACK = (  # the provider's fallback, for sidecar images without pgrep
    "for f in /proc/[0-9]*/comm; do "
    '[ -O $f ] && read c < $f && [ "$c" = "sh" ] && pid=${f%/comm} && kill -2 ${pid##*/}; done'
)
DROPPED_SPEC_FIELDS = ("imagePullSecrets", "serviceAccountName", "automountServiceAccountToken")


@dataclass
class PodRun:
    """What one played pod did: the step's exit code, its logs, the XCom read back, and how it ran."""

    name: str
    exit_code: int
    stdout: str
    stderr: str
    xcom: dict[str, Any] | None
    seconds: float
    played: dict[str, Any]  # the manifest given to podman kube play
    container: dict[str, Any] = field(default_factory=dict)  # podman inspect of the step's container


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    """An Opaque Secret as ``kubectl create secret generic --from-literal`` makes it (values base64)."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name},
        "data": encoded,
    }


def for_podman(pod: dict[str, Any], *, host_network: bool = False) -> dict[str, Any]:
    """The operator's pod (as the API would receive it) with only the changes listed in the module doc."""
    played = copy.deepcopy(pod)
    spec = played["spec"]
    for key in DROPPED_SPEC_FIELDS:
        spec.pop(key, None)
    if host_network:
        spec["hostNetwork"] = True
    return played


class PodRunner:
    """Plays step pods against one ConfigMap and one Secret (a context manager: the secret is removed)."""

    def __init__(
        self, config: dict[str, Any], secret_manifest: dict[str, Any], *, host_network: bool = False
    ):
        self.config, self.secret, self.host_network = config, secret_manifest, host_network
        self._dir = Path(tempfile.mkdtemp(prefix="harmwatch-pods-"))
        self._configmap_file = self._dir / "configmap.yaml"

    def __enter__(self) -> PodRunner:
        self._configmap_file.write_text(yaml.safe_dump(self.config))
        # Podman keeps a Secret for envFrom as a Podman secret whose data is the Secret's data as JSON.
        name = self.secret["metadata"]["name"]
        podman("secret", "rm", name, check=False)
        data_file = self._dir / "secret.json"
        data_file.write_text(json.dumps(self.secret.get("data", {})))
        try:
            podman("secret", "create", name, str(data_file))
        finally:
            data_file.unlink()
        return self

    def __exit__(self, *exc: object) -> None:
        podman("secret", "rm", self.secret["metadata"]["name"], check=False)
        for path in self._dir.iterdir():
            path.unlink()
        self._dir.rmdir()

    def run(self, pod: dict[str, Any], timeout: float = 1800) -> PodRun:
        """Play ``pod``, wait for its step container, read the XCom through the sidecar, remove the pod."""
        played = for_podman(pod, host_network=self.host_network)
        name = played["metadata"]["name"]
        manifest = self._dir / f"{name}.yaml"
        manifest.write_text(yaml.safe_dump(played))
        base, sidecar = f"{name}-{BASE}", f"{name}-{SIDECAR}"
        has_sidecar = any(c["name"] == SIDECAR for c in played["spec"]["containers"])
        started = time.monotonic()
        try:
            podman("kube", "play", "--configmap", str(self._configmap_file), str(manifest), timeout=300)
            code = int(podman("wait", base, timeout=timeout).stdout.strip().splitlines()[-1])
            seconds = time.monotonic() - started
            container = json.loads(podman("container", "inspect", base).stdout)[0]
            logs = podman("logs", base, check=False)
            xcom = self._read_xcom(sidecar) if has_sidecar and code == 0 else None
        finally:
            podman("kube", "down", str(manifest), check=False, timeout=120)
            manifest.unlink(missing_ok=True)
        return PodRun(name, code, logs.stdout, logs.stderr, xcom, round(seconds, 1), played, container)

    def _read_xcom(self, sidecar: str) -> dict[str, Any] | None:
        out = podman("exec", sidecar, "/bin/sh", "-c", XCOM_READ).stdout.strip()
        if podman("exec", sidecar, "/bin/sh", "-c", XCOM_KILL, check=False).returncode != 0:
            podman("exec", sidecar, "/bin/sh", "-c", XCOM_KILL_FALLBACK, check=False)
        return None if out == EMPTY_XCOM else json.loads(out)


def podman_available() -> bool:
    try:
        return subprocess.run(["podman", "--version"], capture_output=True).returncode == 0
    except OSError:
        return False
