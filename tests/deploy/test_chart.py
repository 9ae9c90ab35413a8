"""The harmwatch Helm chart, rendered offline: lint, Kubernetes schemas, security, RBAC, wiring."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.deploy_support import (
    CHART,
    KUBERNETES_VERSIONS,
    NAMESPACE,
    PRODUCTION_VALUES,
    RELEASE,
    Manifest,
    by_kind,
    containers,
    helm_template,
    one,
    parse_manifests,
    pod_specs,
    render,
    run,
)

WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


# ------------------------------------------------------------------ lint and render


@pytest.mark.parametrize("values", [(), (PRODUCTION_VALUES,)], ids=["default", "production"])
def test_helm_lint_strict(helm: Path, values: tuple[Path, ...]) -> None:
    cmd: list[Any] = [helm, "lint", "--strict", CHART, "--namespace", NAMESPACE]
    for v in values:
        cmd += ["--values", v]
    out = run(cmd).stdout
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


def test_renders_the_expected_objects(manifests: list[Manifest]) -> None:
    kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    expected = {
        ("Deployment", "harmwatch-mlflow"),
        ("Service", "harmwatch-mlflow"),
        ("ConfigMap", "harmwatch-mlflow-auth"),
        ("ConfigMap", "harmwatch-config"),
        ("ServiceAccount", "harmwatch-mlflow"),
        ("ServiceAccount", "harmwatch-job"),
        ("ServiceAccount", "harmwatch-airflow-worker"),
        ("Role", "harmwatch-pod-launcher"),
        ("RoleBinding", "harmwatch-pod-launcher"),
        ("NetworkPolicy", "harmwatch-mlflow"),
        ("NetworkPolicy", "harmwatch-jobs"),
        ("NetworkPolicy", "harmwatch-jobs-mlflow"),
        ("NetworkPolicy", "harmwatch-spark"),
        ("NetworkPolicy", "harmwatch-spark-driver"),
        ("ServiceAccount", "harmwatch-spark"),
        ("ServiceAccount", "harmwatch-spark-executor"),
        ("Role", "harmwatch-spark-driver"),
        ("RoleBinding", "harmwatch-spark-driver"),
        ("Pod", "harmwatch-test-mlflow-health"),
        ("Job", "harmwatch-mlflow-access"),
        ("Deployment", "harmwatch-labelstudio"),
        ("Service", "harmwatch-labelstudio"),
        ("ServiceAccount", "harmwatch-labelstudio"),
        ("NetworkPolicy", "harmwatch-labelstudio"),
        ("ConfigMap", "harmwatch-labelstudio"),
    }
    assert expected <= kinds, f"missing: {expected - kinds}"
    assert not by_kind(manifests, "Secret"), "the chart must reference existing Secrets, never create them"


def test_every_namespaced_object_is_in_the_release_namespace(manifests: list[Manifest]) -> None:
    for m in manifests:
        assert m["metadata"].get("namespace") == NAMESPACE, f"{m['kind']}/{m['metadata']['name']}"


@pytest.mark.parametrize("k8s_version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_kubernetes_schema_strict(
    manifests: list[Manifest], k8s_version: str
) -> None:
    errors = []
    for m in manifests:
        try:
            kubernetes_validate.validate(m, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{m['kind']}/{m['metadata']['name']}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{m['kind']}/{m['metadata']['name']}: no schema: {exc.message}")
    assert not errors, "\n".join(errors)


def test_kubernetes_validate_catches_a_broken_manifest() -> None:
    """Guard against a validator that accepts anything (e.g. strict mode silently off)."""
    deployment = one(render("default"), "Deployment", "harmwatch-mlflow")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


# ------------------------------------------------------------------ pod security and resources


def test_every_pod_is_hardened(manifests: list[Manifest]) -> None:
    specs = pod_specs(manifests)
    assert {name for name, _ in specs} >= {
        "Deployment/harmwatch-mlflow",
        "Deployment/harmwatch-labelstudio",
        "Pod/harmwatch-test-mlflow-health",
    }
    for name, spec in specs:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["runAsUser"] != 0, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, f"{name} does not talk to the API server"
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True, name
        for c in containers(spec):
            where = f"{name} container {c['name']}"
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["runAsNonRoot"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert not sc["capabilities"].get("add"), where
            assert sc.get("privileged") is not True, where
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", where


def test_writable_paths_are_emptydirs(manifests: list[Manifest]) -> None:
    """A read-only root needs /tmp (and the server's HOME) as emptyDir volumes, nothing else."""
    for name, spec in pod_specs(manifests):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name}/{c['name']} has no writable /tmp"
            assert "emptyDir" in volumes[mounts["/tmp"]["name"]], name
        for v in volumes.values():
            assert set(v) & {"emptyDir", "configMap", "secret"}, f"{name}: unexpected volume {v}"
            assert "hostPath" not in v, name
            if "secret" in v:  # a Secret as files: only the keys needed, private, read-only
                assert v["secret"]["items"] and v["secret"]["defaultMode"] == 0o400, name
                mounts = [m for c in spec["containers"] for m in c["volumeMounts"] if m["name"] == v["name"]]
                assert mounts and all(m.get("readOnly") for m in mounts), name


def test_every_container_has_requests_and_limits(manifests: list[Manifest]) -> None:
    for name, spec in pod_specs(manifests):
        for c in containers(spec):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(kind, {})), f"{name}/{c['name']} lacks {kind}"


def test_images_are_pinned_never_latest(manifests: list[Manifest]) -> None:
    for name, spec in pod_specs(manifests):
        for c in containers(spec):
            image = c["image"]
            assert "@sha256:" in image or re.search(r":[\w][\w.-]*$", image), f"{name}: unpinned {image}"
            assert not image.endswith(":latest"), f"{name}: {image}"
            assert c["imagePullPolicy"] in ("IfNotPresent", "Always", "Never"), name


def test_digest_wins_over_tag() -> None:
    digest = "sha256:" + "a" * 64
    out = helm_template(sets=[f"image.digest={digest}"]).stdout
    assert f"registry.gitlab.com/harmwatch/harmwatch/job@{digest}" in out
    assert "job:0.1.0" not in out


@pytest.mark.parametrize(
    "bad", ["image.tag=latest", "mlflow.image.repository=x/mlflow,mlflow.image.tag=latest", "image.tag="]
)
def test_latest_or_missing_tag_is_refused(bad: str) -> None:
    proc = helm_template(sets=[bad], check=False)
    assert proc.returncode != 0, f"--set {bad} rendered:\n{proc.stdout[:500]}"


def test_values_schema_rejects_unknown_keys() -> None:
    proc = helm_template(sets=["mlflow.replica=2"], check=False)
    assert proc.returncode != 0 and "replica" in proc.stderr


# ------------------------------------------------------------------ RBAC


def test_rbac_is_namespaced_and_minimal(manifests: list[Manifest]) -> None:
    assert not by_kind(manifests, "ClusterRole") and not by_kind(manifests, "ClusterRoleBinding")
    roles = by_kind(manifests, "Role")
    assert [r["metadata"]["name"] for r in roles] == ["harmwatch-pod-launcher", "harmwatch-spark-driver"]
    role = roles[0]
    assert role["metadata"]["namespace"] == NAMESPACE
    allowed = {
        "pods": {"create", "get", "list", "watch", "patch", "delete"},
        "pods/log": {"get"},
        "pods/exec": {"create", "get"},
    }
    seen = set()
    for rule in role["rules"]:
        assert rule["apiGroups"] == [""], rule
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        for res in rule["resources"]:
            assert res in allowed, f"unexpected resource {res}"
            assert set(rule["verbs"]) <= allowed[res], rule
            seen.add(res)
    assert seen == set(allowed), "KubernetesPodOperator needs pods, pods/log and pods/exec (xcom sidecar)"


def test_spark_driver_may_manage_only_its_executors_and_executors_have_no_token(
    manifests: list[Manifest],
) -> None:
    role = one(manifests, "Role", "harmwatch-spark-driver")
    granted = {res: set(r["verbs"]) for r in role["rules"] for res in r["resources"]}
    assert set(granted) == {"pods", "services", "configmaps"}
    assert all(
        "*" not in verbs and not {"escalate", "bind", "impersonate"} & verbs for verbs in granted.values()
    )
    rb = one(manifests, "RoleBinding", "harmwatch-spark-driver")
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "harmwatch-spark", "namespace": NAMESPACE}]
    assert one(manifests, "ServiceAccount", "harmwatch-spark")["automountServiceAccountToken"] is True
    executor = one(manifests, "ServiceAccount", "harmwatch-spark-executor")
    assert executor["automountServiceAccountToken"] is False
    config = one(manifests, "ConfigMap", "harmwatch-config")["data"]
    assert config["HARMWATCH_SPARK_SERVICE_ACCOUNT"] == "harmwatch-spark"


def test_spark_pods_reach_each_other_mlflow_and_the_store_and_only_the_driver_the_api(
    manifests: list[Manifest],
) -> None:
    spark = {"app.kubernetes.io/name": "harmwatch", "app.kubernetes.io/component": "spark"}
    np = one(manifests, "NetworkPolicy", "harmwatch-spark")
    assert np["spec"]["podSelector"]["matchLabels"] == spark
    assert [p["podSelector"]["matchLabels"] for p in np["spec"]["ingress"][0]["from"]] == [spark]
    targets = [p["podSelector"]["matchLabels"] for r in np["spec"]["egress"] for p in r.get("to", [])]
    assert spark in targets and any(t.get("app.kubernetes.io/component") == "mlflow" for t in targets)
    assert {p["port"] for r in np["spec"]["egress"] for p in r.get("ports", [])} == {53, 443, 5000}
    driver = one(manifests, "NetworkPolicy", "harmwatch-spark-driver")
    assert driver["spec"]["podSelector"]["matchLabels"] == {**spark, "spark-role": "driver"}
    assert driver["spec"]["policyTypes"] == ["Egress"]
    mlflow = one(manifests, "NetworkPolicy", "harmwatch-mlflow")["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {**spark, "spark-role": "driver"}}} in mlflow


def test_step_egress_follows_what_each_step_uses(manifests: list[Manifest]) -> None:
    """Only the steps that use MLflow (or Label Studio) reach it: the chart's lists are the commands of
    jobs/harmwatch/access.py that use those credentials."""
    from harmwatch.access import COMMAND_SECRETS, LABEL_STUDIO, MLFLOW

    def steps_of(name: str) -> set[str]:
        selector = one(manifests, "NetworkPolicy", name)["spec"]["podSelector"]
        [expression] = selector["matchExpressions"]
        assert expression["key"] == "harmwatch/step" and expression["operator"] == "In"
        return set(expression["values"])

    def users(keys: tuple[str, ...]) -> set[str]:
        return {command for command, used in COMMAND_SECRETS.items() if set(keys) <= set(used)}

    assert steps_of("harmwatch-jobs-mlflow") == users(MLFLOW)
    assert steps_of("harmwatch-jobs-labelstudio") == users(LABEL_STUDIO)
    base = one(manifests, "NetworkPolicy", "harmwatch-jobs")
    assert not [p for r in base["spec"]["egress"] for p in r.get("to", []) if "podSelector" in p]


def test_rolebinding_binds_only_the_airflow_worker_in_namespace(manifests: list[Manifest]) -> None:
    rb = one(manifests, "RoleBinding", "harmwatch-pod-launcher")
    assert rb["metadata"]["namespace"] == NAMESPACE
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "harmwatch-pod-launcher",
    }
    assert rb["subjects"] == [
        {"kind": "ServiceAccount", "name": "harmwatch-airflow-worker", "namespace": NAMESPACE}
    ]


def test_pod_exec_can_be_turned_off() -> None:
    role = one(parse(helm_template(sets=["rbac.podExec=false"]).stdout), "Role", "harmwatch-pod-launcher")
    assert all("pods/exec" not in r["resources"] for r in role["rules"])


def test_job_and_mlflow_service_accounts_have_no_token_and_no_binding(manifests: list[Manifest]) -> None:
    bound = {s["name"] for rb in by_kind(manifests, "RoleBinding") for s in rb["subjects"]}
    for name in ("harmwatch-job", "harmwatch-mlflow"):
        sa = one(manifests, "ServiceAccount", name)
        assert sa["automountServiceAccountToken"] is False
        assert name not in bound
    assert (
        one(manifests, "ServiceAccount", "harmwatch-airflow-worker")["automountServiceAccountToken"] is True
    )


# ------------------------------------------------------------------ MLflow server


def _mlflow(manifests: list[Manifest]) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = one(manifests, "Deployment", "harmwatch-mlflow")["spec"]["template"]["spec"]
    return spec, next(c for c in spec["containers"] if c["name"] == "mlflow")


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def test_mlflow_runs_basic_auth_with_postgres_and_s3_from_secrets(manifests: list[Manifest]) -> None:
    spec, c = _mlflow(manifests)
    assert c["command"] == ["mlflow"]
    args = c["args"]
    assert args[0] == "server" and "--app-name=basic-auth" in args
    assert any(a.startswith("--artifacts-destination=s3://") for a in args)
    assert "--serve-artifacts" in args
    env = _env(c)
    for name, key in [
        ("MLFLOW_BACKEND_STORE_URI", "backend-store-uri"),
        ("MLFLOW_AUTH_ADMIN_USERNAME", "admin-username"),
        ("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password"),
        ("MLFLOW_FLASK_SERVER_SECRET_KEY", "flask-secret-key"),
    ]:
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "harmwatch-mlflow", "key": key}, name
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"] == "/etc/mlflow-auth/basic_auth.ini"
    init = spec["initContainers"][0]
    assert _env(init)["MLFLOW_AUTH_DATABASE_URI"]["valueFrom"]["secretKeyRef"]["key"] == "auth-database-uri"
    auth_volume = next(v for v in spec["volumes"] if v["name"] == "auth-config")
    assert auth_volume["emptyDir"]["medium"] == "Memory", (
        "rendered auth config holds a DB URI: keep it off disk"
    )
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"


def test_mlflow_accepts_its_service_host_names(manifests: list[Manifest]) -> None:
    _, c = _mlflow(manifests)
    hosts = next(a for a in c["args"] if a.startswith("--allowed-hosts=")).split("=", 1)[1].split(",")
    for host in (f"harmwatch-mlflow.{NAMESPACE}.svc:5000", "harmwatch-mlflow:5000", "localhost:*"):
        assert host in hosts


def test_basic_auth_config_map_holds_no_credentials(manifests: list[Manifest]) -> None:
    ini = one(manifests, "ConfigMap", "harmwatch-mlflow-auth")["data"]["basic_auth.ini.tmpl"]
    assert "database_uri = ${MLFLOW_AUTH_DATABASE_URI}" in ini
    assert "admin_password" not in ini


def test_mlflow_service_selects_the_server_pods(manifests: list[Manifest]) -> None:
    svc = one(manifests, "Service", "harmwatch-mlflow")
    pod_labels = one(manifests, "Deployment", "harmwatch-mlflow")["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


def test_production_runs_several_replicas_with_a_disruption_budget(render_production: list[Manifest]) -> None:
    dep = one(render_production, "Deployment", "harmwatch-mlflow")
    assert dep["spec"]["replicas"] >= 2
    pdb = one(render_production, "PodDisruptionBudget", "harmwatch-mlflow")
    assert (
        pdb["spec"]["selector"]["matchLabels"].items()
        <= dep["spec"]["template"]["metadata"]["labels"].items()
    )


@pytest.fixture
def render_production() -> list[Manifest]:
    return render("production")


# ------------------------------------------------------------------ job configuration


def test_job_configmap_carries_the_pod_operator_settings(manifests: list[Manifest]) -> None:
    data = one(manifests, "ConfigMap", "harmwatch-config")["data"]
    assert data["HARMWATCH_RUNNER"] == "kubernetes"
    assert data["HARMWATCH_NAMESPACE"] == NAMESPACE
    assert data["HARMWATCH_SERVICE_ACCOUNT"] == "harmwatch-job"
    assert data["HARMWATCH_CONFIGMAP"] == "harmwatch-config"
    assert data["HARMWATCH_SECRET_NAME"] == "harmwatch-secrets"
    assert data["HARMWATCH_MLFLOW_TRACKING_URI"] == f"http://harmwatch-mlflow.{NAMESPACE}.svc:5000"
    for key in ("HARMWATCH_LANDING_URI", "HARMWATCH_LAKE_URI", "HARMWATCH_REPORTS_URI"):
        assert data[key].startswith("s3://"), key
    # The image the pods run is the same the chart runs (and the one CI tags with the SHA).
    deployment_image = _mlflow(manifests)[1]["image"]
    assert data["HARMWATCH_IMAGE"] == deployment_image
    assert all(isinstance(v, str) for v in data.values())


def test_job_image_tag_follows_the_ci_sha() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    data = one(parse(helm_template(sets=[f"image.tag={sha}"]).stdout), "ConfigMap", "harmwatch-config")[
        "data"
    ]
    assert data["HARMWATCH_IMAGE"] == f"registry.gitlab.com/harmwatch/harmwatch/job:{sha}"


def test_optional_s3_endpoint_reaches_jobs_and_server() -> None:
    out = parse(helm_template(sets=["s3.endpointUrl=http://minio.storage:9000"]).stdout)
    assert (
        one(out, "ConfigMap", "harmwatch-config")["data"]["AWS_ENDPOINT_URL"] == "http://minio.storage:9000"
    )
    env = _env(_mlflow(out)[1])
    assert (
        env["AWS_ENDPOINT_URL"]["value"]
        == env["MLFLOW_S3_ENDPOINT_URL"]["value"]
        == "http://minio.storage:9000"
    )
    assert "AWS_ENDPOINT_URL" not in one(render("default"), "ConfigMap", "harmwatch-config")["data"]


# ------------------------------------------------------------------ network policies


def test_mlflow_ingress_only_from_airflow_jobs_and_test(manifests: list[Manifest]) -> None:
    np = one(manifests, "NetworkPolicy", "harmwatch-mlflow")
    assert set(np["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    [rule] = np["spec"]["ingress"]
    sources = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
    assert all(set(peer) == {"podSelector"} for peer in rule["from"]), "no namespace or IP wildcards"
    assert all(sources), "an empty podSelector would admit every pod"
    assert any(s.get("tier") == "airflow" for s in sources)
    jobs = next(
        p["podSelector"]
        for p in rule["from"]
        if p["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "job"
    )
    assert jobs["matchLabels"] == {
        "app.kubernetes.io/component": "job",
        "app.kubernetes.io/name": "harmwatch",
    }
    assert "ingest" not in jobs["matchExpressions"][0]["values"]  # only steps that use MLflow
    assert rule["ports"] == [{"protocol": "TCP", "port": 5000}]
    egress_ports = {p["port"] for r in np["spec"]["egress"] for p in r["ports"]}
    assert egress_ports == {53, 5432, 443}


def test_job_pods_accept_nothing_and_reach_mlflow(manifests: list[Manifest]) -> None:
    np = one(manifests, "NetworkPolicy", "harmwatch-jobs")
    assert np["spec"]["ingress"] == []
    np = one(manifests, "NetworkPolicy", "harmwatch-jobs-mlflow")
    targets = [peer["podSelector"]["matchLabels"] for r in np["spec"]["egress"] for peer in r.get("to", [])]
    assert {
        "app.kubernetes.io/name": "harmwatch",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "mlflow",
    } in targets


def test_label_studio_uses_postgres_from_a_secret_and_calls_nobody(manifests: list[Manifest]) -> None:
    deployment = one(manifests, "Deployment", "harmwatch-labelstudio")
    spec = deployment["spec"]["template"]["spec"]
    [c] = spec["containers"]
    assert c["image"] == "heartexlabs/label-studio:1.23.2"
    assert c["command"] == ["label-studio"] and "start" in c["args"]
    env = _env(c)
    for name, key in [
        ("POSTGRE_USER", "postgres-user"),
        ("POSTGRE_PASSWORD", "postgres-password"),
        ("SECRET_KEY", "django-secret-key"),
    ]:
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "harmwatch-labelstudio", "key": key}, name
        assert "value" not in env[name], name
    assert env["DJANGO_DB"]["value"] == "default" and env["POSTGRE_HOST"]["value"]  # PostgreSQL, not SQLite
    [source] = c["envFrom"]
    quiet = one(manifests, "ConfigMap", source["configMapRef"]["name"])["data"]
    assert quiet["COLLECT_ANALYTICS"] == "false" and quiet["LATEST_VERSION_CHECK"] == "false"
    assert quiet["SENTRY_DSN"] == "" and quiet["FRONTEND_SENTRY_DSN"] == ""  # the defaults are live DSNs
    assert spec["securityContext"]["runAsUser"] == 1001 and c["securityContext"]["runAsUser"] == 1001
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"
    config = one(manifests, "ConfigMap", "harmwatch-config")["data"]
    assert config["HARMWATCH_LABEL_STUDIO_URL"] == f"http://harmwatch-labelstudio.{NAMESPACE}.svc:8080"
    assert "HARMWATCH_LABEL_STUDIO_TOKEN" not in config  # a secret: in jobs.existingSecret


def test_label_studio_is_reached_by_jobs_and_reaches_only_dns_and_postgres(manifests: list[Manifest]) -> None:
    np = one(manifests, "NetworkPolicy", "harmwatch-labelstudio")
    [rule] = np["spec"]["ingress"]
    peers = [p["podSelector"]["matchLabels"] for p in rule["from"]]
    assert peers[0] == {"app.kubernetes.io/name": "harmwatch", "app.kubernetes.io/component": "job"}
    assert all(peers), "an empty podSelector would admit every pod"
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert {p["port"] for r in np["spec"]["egress"] for p in r["ports"]} == {53, 5432}
    assert rule["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["review-push", "review-pull"]
    jobs = one(manifests, "NetworkPolicy", "harmwatch-jobs-labelstudio")
    targets = [peer["podSelector"]["matchLabels"] for r in jobs["spec"]["egress"] for peer in r.get("to", [])]
    assert {**targets[-1]} == {
        "app.kubernetes.io/name": "harmwatch",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "labelstudio",
    }


def test_label_studio_can_be_left_out() -> None:
    kinds = {
        (m["kind"], m["metadata"]["name"])
        for m in parse_manifests(helm_template(sets=["labelStudio.enabled=false"]).stdout)
    }
    assert not {k for k in kinds if "labelstudio" in k[1]}
    config = next(
        m
        for m in parse_manifests(helm_template(sets=["labelStudio.enabled=false"]).stdout)
        if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "harmwatch-config"
    )
    assert "HARMWATCH_LABEL_STUDIO_URL" not in config["data"]


# ------------------------------------------------------------------ helm test hook


def test_helm_test_hook_checks_mlflow_health(manifests: list[Manifest]) -> None:
    pod = one(manifests, "Pod", "harmwatch-test-mlflow-health")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    command = pod["spec"]["containers"][0]["command"]
    assert command[-1] == f"http://harmwatch-mlflow.{NAMESPACE}.svc:5000/health"
    labels = pod["metadata"]["labels"]
    np_sources = [
        p["podSelector"]["matchLabels"]
        for p in one(manifests, "NetworkPolicy", "harmwatch-mlflow")["spec"]["ingress"][0]["from"]
    ]
    assert any(src.items() <= labels.items() for src in np_sources), (
        "the test pod must be allowed to reach MLflow"
    )


# ------------------------------------------------------------------ values documentation


def _schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text())


def test_schema_describes_every_property() -> None:
    missing = []

    def walk(node: dict[str, Any], path: str) -> None:
        for key, sub in node.get("properties", {}).items():
            if not sub.get("description"):
                missing.append(f"{path}{key}")
            walk(sub, f"{path}{key}.")

    walk(_schema(), "")
    assert not missing, f"schema properties without description: {missing}"


def test_every_value_is_in_the_schema_and_documented() -> None:
    """Each key of values.yaml is a schema property and has a comment right above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    values = yaml.safe_load("\n".join(lines))
    schema = _schema()
    undocumented, unknown = [], []
    free_form = {"resources", "initResources", "podSecurityContext", "containerSecurityContext", "affinity"}

    def comment_above(key: str, indent: int, start: int) -> tuple[bool, int]:
        pattern = re.compile(rf"^{' ' * indent}{re.escape(key)}:")
        for i in range(start, len(lines)):
            if pattern.match(lines[i]):
                return i > 0 and lines[i - 1].strip().startswith("#"), i
        raise AssertionError(f"{key} not found at indent {indent} after line {start}")

    def walk(node: Any, sch: dict[str, Any], indent: int, start: int, path: str) -> None:
        if not isinstance(node, dict):
            return
        for key, sub in node.items():
            props = sch.get("properties", {})
            if key not in props:
                if sch.get("additionalProperties") is False:
                    unknown.append(path + key)
                continue
            ok, line = comment_above(key, indent, start)
            if not ok:
                undocumented.append(path + key)
            if key not in free_form and props[key].get("properties"):
                walk(sub, props[key], indent + 2, line + 1, f"{path}{key}.")

    walk(values, schema, 0, 0, "")
    assert not unknown, f"values not in values.schema.json: {unknown}"
    assert not undocumented, f"values.yaml keys without a comment above them: {undocumented}"


def parse(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


# ------------------------------------------------------------------ the pipeline's MLflow user


def test_mlflow_access_hook_takes_every_credential_from_the_secrets(manifests: list[Manifest]) -> None:
    job = one(manifests, "Job", "harmwatch-mlflow-access")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    pod = job["spec"]["template"]
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["harmwatch"] and container["args"][0] == "mlflow-access"
    assert "--password-file=/var/run/harmwatch-pipeline/password" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert all("valueFrom" in e and "value" not in e for e in env.values()), "credentials only from Secrets"
    refs = {
        n: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for n, e in env.items()
    }
    assert refs == {
        "PIPELINE_MLFLOW_USER": ("harmwatch-secrets", "MLFLOW_TRACKING_USERNAME"),
        "MLFLOW_TRACKING_USERNAME": ("harmwatch-mlflow", "admin-username"),
        "MLFLOW_TRACKING_PASSWORD": ("harmwatch-mlflow", "admin-password"),
    }
    [secret_volume] = [v for v in pod["spec"]["volumes"] if "secret" in v]
    assert secret_volume["secret"]["items"] == [{"key": "MLFLOW_TRACKING_PASSWORD", "path": "password"}]
    # It reaches MLflow as a job pod does (the network policy admits these labels).
    assert {"app.kubernetes.io/component": "job", "app.kubernetes.io/name": "harmwatch"}.items() <= pod[
        "metadata"
    ]["labels"].items()


def test_mlflow_access_hook_can_be_turned_off() -> None:
    manifests = parse_manifests(helm_template(sets=["mlflow.access.enabled=false"]).stdout)
    assert not by_kind(manifests, "Job")
