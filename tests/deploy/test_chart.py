"""The Helm chart (helm/notifier), checked offline on its rendered manifests (issue 10).

Rendered by Helm's own engine (helm-python-sdk) with each ``helm/notifier/ci/*-values.yaml``,
linted strictly, every object validated against the Kubernetes 1.30 schemas
(kubernetes-validate, strict), then held to the rules an operator relies on: beat is a
singleton, autoscalers own the worker's replica count, every setting the engine reads is
supplied, probes hit real routes, every container is locked down, nothing a hook reads is
created after it, the migrations Job is a plain Job whose name follows its pod template, and
secrets never default. No database, Redis or cluster is needed.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import subprocess
import sys

import helm_python
import kubernetes_validate
import pytest
import yaml
from django.urls import Resolver404, resolve

from tests.deploy.chart import (
    CHART_DIR,
    KUBE_VERSION,
    ROOT,
    by_component,
    chart,
    ci_values_files,
    component_of,
    containers,
    load_values,
    merged,
    notes,
    of_kind,
    render_objects,
    workloads,
)

SETTINGS = ROOT / "config" / "settings.py"
CI_FILES = {path.name.removesuffix("-values.yaml"): path for path in ci_values_files()}
CI_NAMES = sorted(CI_FILES)
COMPONENTS = ("web", "worker", "beat", "flower", "inbox")
HEARTBEAT_ROLES = ("worker", "beat", "inbox")
CRD_KINDS = {"ScaledObject", "TriggerAuthentication"}  # KEDA's: no schema in kubernetes-validate
REQUIRED_SECRETS = ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FLOWER_BASIC_AUTH", "NOTIFIER_METRICS_TOKEN")

POD_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
# The argv of each process of the one image (fixed by the Dockerfile and the code), with the chart's defaults.
COMMANDS = {
    "web": ["gunicorn", "config.wsgi", "--config", "python:config.gunicorn", "--bind", "0.0.0.0:8000"],
    "worker": ["celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"],
    "beat": ["celery", "-A", "config", "beat", "--loglevel", "INFO", "--schedule", "/tmp/celerybeat-schedule"],
    "flower": ["python", "-m", "notifier.flower", "--port=5555", "--address=0.0.0.0"],
    "inbox": ["python", "manage.py", "consume_inbox"],
    "migrate": ["python", "manage.py", "migrate", "--noinput"],
    "wait-for-migrations": ["python", "manage.py", "wait_for_migrations", "--timeout", "900"],
}


@pytest.fixture(scope="module")
def renders() -> dict[str, list[dict]]:
    """The objects of each ci values file, rendered once for the module."""
    return {name: render_objects(load_values(path)) for name, path in CI_FILES.items()}


def ci_values(name: str) -> dict:
    return load_values(CI_FILES[name])


def deployment(objects: list[dict], component: str) -> dict:
    (found,) = by_component(objects, "Deployment")[component]
    return found


def only(objects: list[dict], kind: str) -> dict:
    (found,) = of_kind(objects, kind)
    return found


def schema_secret_keys() -> set[str]:
    return set(chart().schema["properties"]["secretEnv"]["properties"])


def configmap_data(objects: list[dict]) -> dict[str, str]:
    return only(objects, "ConfigMap")["data"]


def secret_data(objects: list[dict]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in only(objects, "Secret")["data"].items()}


def render_error(values: dict) -> str:
    with pytest.raises(helm_python.HelmError) as caught:
        chart().render(values, name="notifier", namespace="notifier")
    return str(caught.value)


def test_ci_values_cover_the_required_scenarios():
    assert {"defaults", "existing-secret", "keda", "ingress", "hpa"} <= set(CI_NAMES)


# --- 1, 2: lint and Kubernetes schema validation ---------------------------------------


@pytest.mark.parametrize("name", CI_NAMES)
def test_lint_strict_reports_no_warning_or_error(name):
    report = helm_python.lint(CHART_DIR, ci_values(name), strict=True, kube_version=f"v{KUBE_VERSION}.0")
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    assert [message for message in report["messages"] if message["severity"] >= 2] == []


@pytest.mark.parametrize("name", CI_NAMES)
def test_every_rendered_object_is_valid_for_kubernetes_1_30(renders, name):
    assert renders[name], "the release renders no object"
    for obj in renders[name]:
        if obj["kind"] in CRD_KINDS:
            # A CRD kind is allowed by name; it still has to be a well-formed KEDA object.
            assert obj["apiVersion"] == "keda.sh/v1alpha1"
            assert obj["metadata"]["name"]
            assert isinstance(obj["spec"], dict) and obj["spec"]
            continue
        try:
            validated = kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            pytest.fail(f"{exc.message} (only {sorted(CRD_KINDS)} are allowed without a schema)")
        assert validated == KUBE_VERSION


@pytest.mark.parametrize("name", CI_NAMES)
def test_component_label_on_workload_pod_template_and_selector(renders, name):
    deployments = by_component(renders[name], "Deployment")
    assert set(deployments) == set(COMPONENTS)
    for component, (obj,) in deployments.items():
        assert obj["metadata"]["name"] == f"notifier-{component}"
        assert obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == component
        assert obj["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component
        for label in ("name", "instance", "version", "managed-by"):
            assert f"app.kubernetes.io/{label}" in obj["metadata"]["labels"]
        assert "helm.sh/chart" in obj["metadata"]["labels"]
    job = only(renders[name], "Job")
    assert component_of(job) == "migrate"
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"


@pytest.mark.parametrize("name", CI_NAMES)
def test_containers_run_the_image_processes(renders, name):
    objects = renders[name]
    commands = {}
    for _, template in workloads(objects):
        for container in containers(template["spec"]):
            # The full argv in args; no command, which would replace the image's ENTRYPOINT
            # (tini, which must stay PID 1 to pass SIGTERM on and reap probe processes).
            assert "command" not in container, container["name"]
            commands[container["name"]] = container["args"]
    assert commands == COMMANDS
    web = deployment(objects, "web")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "WEB_CONCURRENCY", "value": "2"} in web["env"]


# --- 3: beat is a singleton ---------------------------------------------------------------


@pytest.mark.parametrize("name", CI_NAMES)
def test_beat_is_one_replica_replaced_with_recreate(renders, name):
    beats = by_component(renders[name], "Deployment")["beat"]
    assert len(beats) == 1
    assert beats[0]["spec"]["replicas"] == 1
    assert beats[0]["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("name", CI_NAMES)
def test_no_autoscaler_targets_beat(renders, name):
    objects = renders[name]
    beat = deployment(objects, "beat")["metadata"]["name"]
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler") + of_kind(objects, "ScaledObject")
    for autoscaler in autoscalers:
        assert autoscaler["spec"]["scaleTargetRef"]["name"] != beat
        assert autoscaler["spec"]["scaleTargetRef"]["name"] == deployment(objects, "worker")["metadata"]["name"]


@pytest.mark.parametrize("beat", [{"replicas": 2}, {"autoscaling": {"enabled": True}}])
def test_schema_refuses_replicas_or_autoscaling_for_beat(beat):
    with pytest.raises(helm_python.HelmValuesError, match="beat"):
        chart().validate_schema({"beat": beat})
    assert "beat" in render_error(merged(ci_values("defaults"), {"beat": beat}))


# --- 4: worker autoscaling ----------------------------------------------------------------


def test_worker_has_fixed_replicas_without_an_autoscaler(renders):
    objects = renders["defaults"]
    assert deployment(objects, "worker")["spec"]["replicas"] == 2
    assert not of_kind(objects, "HorizontalPodAutoscaler")
    assert not of_kind(objects, "ScaledObject")


@pytest.mark.parametrize("name", ["hpa", "keda"])
def test_autoscaled_worker_deployment_leaves_replicas_to_the_autoscaler(renders, name):
    assert "replicas" not in deployment(renders[name], "worker")["spec"]


def test_hpa_scales_the_worker_deployment_on_cpu(renders):
    objects = renders["hpa"]
    hpa = only(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment(objects, "worker")["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_keda_scales_the_worker_on_the_celery_queue_with_the_redis_password_from_the_secret(renders):
    objects = renders["keda"]
    scaled = only(objects, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment(objects, "worker")["metadata"]["name"]
    redis, *extra = scaled["spec"]["triggers"]
    assert redis["type"] == "redis"
    assert redis["metadata"] == {
        "address": "redis:6379",
        "databaseIndex": "0",
        "listName": "celery",
        "listLength": "20",
        "enableTLS": "false",
    }
    assert [trigger["type"] for trigger in extra] == ["prometheus"]  # extraTriggers, appended verbatim
    auth = only(objects, "TriggerAuthentication")
    assert redis["authenticationRef"] == {"name": auth["metadata"]["name"]}
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref == {
        "parameter": "password",
        "name": only(objects, "Secret")["metadata"]["name"],
        "key": "REDIS_PASSWORD",
    }
    assert secret_data(objects)["REDIS_PASSWORD"]


def test_keda_without_a_redis_password_key_needs_no_trigger_authentication():
    values = merged(ci_values("defaults"), {"worker": {"keda": {"enabled": True, "redis": {"address": "r:6379"}}}})
    objects = render_objects(values)
    assert not of_kind(objects, "TriggerAuthentication")
    assert "authenticationRef" not in only(objects, "ScaledObject")["spec"]["triggers"][0]


def test_hpa_and_keda_together_fail_to_render():
    values = merged(ci_values("keda"), {"worker": {"autoscaling": {"enabled": True}}})
    message = render_error(values)
    assert "worker.autoscaling.enabled" in message and "worker.keda.enabled" in message


def test_keda_without_a_redis_address_fails_to_render():
    values = merged(ci_values("defaults"), {"worker": {"keda": {"enabled": True}}})
    assert "worker.keda.redis.address" in render_error(values)


def test_keda_password_key_missing_from_the_secret_fails_to_render():
    values = merged(ci_values("defaults"), {"worker": {"keda": {"enabled": True, "redis": {"address": "r:6379"}}}})
    values["worker"]["keda"]["redis"]["passwordSecretKey"] = "REDIS_PASSWORD"
    assert "secretEnv.REDIS_PASSWORD" in render_error(values)


@pytest.mark.parametrize("name", CI_NAMES)
def test_disruption_budgets_allow_one_pod_down_for_web_and_worker(renders, name):
    budgets = {component_of(pdb): pdb["spec"] for pdb in of_kind(renders[name], "PodDisruptionBudget")}
    assert set(budgets) == {"web", "worker"}
    for component, spec in budgets.items():
        assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec
        assert (
            spec["selector"]["matchLabels"] == deployment(renders[name], component)["spec"]["selector"]["matchLabels"]
        )


# --- 5: configuration: every setting the engine reads is supplied --------------------------


def _assigned_name(target: ast.expr) -> str | None:
    while isinstance(target, ast.Subscript | ast.Attribute):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def _env_reads(node: ast.AST) -> list[str]:
    """Variables read by ``env("X")`` / ``env.<cast>("X", ...)`` calls under node."""
    names = []
    for call in ast.walk(node):
        if not (isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant)):
            continue
        func = call.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        )
        if is_env and isinstance(call.args[0].value, str):
            names.append(call.args[0].value)
    return names


def settings_variables() -> dict[str, set[str]]:
    """{environment variable config/settings.py reads: the settings its assignment sets}."""
    tree = ast.parse(SETTINGS.read_text())
    variables: dict[str, set[str]] = {name: set() for name in _env_reads(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for name in _env_reads(node.value):
                variables[name].update(filter(None, map(_assigned_name, targets)))
    return variables


def test_settings_parser_finds_the_variables():
    variables = settings_variables()
    assert variables["DATABASE_URL"] == {"DATABASES"}
    assert variables["NOTIFIER_LEAD_MINUTES"] == {"NOTIFIER_LEAD_MINUTES"}
    assert variables["LOG_LEVEL"] == {"LOGGING"}
    assert len(variables) >= 40


def test_every_variable_the_settings_read_is_supplied_by_the_chart():
    every_secret = {key: f"value-of-{key}" for key in schema_secret_keys()}
    objects = render_objects(merged(ci_values("defaults"), {"secretEnv": every_secret}))
    in_configmap = set(configmap_data(objects))
    in_secret = set(secret_data(objects)) & schema_secret_keys()
    assert in_secret == schema_secret_keys()
    missing = set(settings_variables()) - in_configmap - in_secret
    assert missing == set(), f"settings read variables the chart does not supply: {sorted(missing)}"


def test_every_default_env_key_is_a_variable_the_settings_read():
    """A misspelt key in values.yaml's env would be silently ignored by the engine."""
    unknown = set(chart().values["env"]) - set(settings_variables())
    assert unknown == set()


@pytest.mark.parametrize("name", CI_NAMES)
def test_no_secret_key_is_in_the_configmap(renders, name):
    assert set(configmap_data(renders[name])) & schema_secret_keys() == set()


# What the chart sets differently from the settings' own default, and why. DJANGO_SECURE_*
# are compared: both runs below have DJANGO_DEBUG off, as the chart has, so the settings'
# production branch (secure cookies, SSL redirect, HSTS) reads them in both.
CHART_OWN_VALUES = {
    "DJANGO_ALLOWED_HOSTS": "computed by the chart: the ingress hosts and the web Service names",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "computed by the chart: https://<host> of each ingress host",
    "NOTIFIER_HEARTBEAT_DIR": "off by default outside containers; the chart's exec probes read it in the /tmp emptyDir",
}

_PRINT_SETTINGS = """
import json, sys
import config.settings as settings
names = json.loads(sys.argv[1])
print(json.dumps({name: getattr(settings, name, None) for name in names}, default=repr, sort_keys=True))
"""


def load_settings(names: list[str], environment: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS, json.dumps(names)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_configmap_defaults_equal_the_settings_own_defaults(renders):
    data = configmap_data(renders["defaults"])
    variables = settings_variables()
    compared = {var: variables[var] for var in data if var not in CHART_OWN_VALUES}
    names = sorted(set().union(*compared.values()))
    clean = {
        key: value
        for key, value in os.environ.items()
        if key.removesuffix("_FILE") not in variables and key not in data and key != "DJANGO_SETTINGS_MODULE"
    }
    clean |= {"DJANGO_SECRET_KEY": "x", "DATABASE_URL": "postgres://u@db/n", "REDIS_URL": "redis://redis:6379/0"}
    own_defaults = load_settings(names, clean)
    with_configmap = load_settings(names, clean | data)
    differing = {
        var: [name for name in targets if own_defaults[name] != with_configmap[name]]
        for var, targets in compared.items()
    }
    assert {var: names for var, names in differing.items() if names} == {}
    assert data["NOTIFIER_HEARTBEAT_DIR"] == "/tmp"  # the emptyDir every pod mounts


def test_allowed_hosts_and_csrf_origins_come_from_the_ingress_and_the_service(renders):
    data = configmap_data(renders["ingress"])
    hosts = data["DJANGO_ALLOWED_HOSTS"].split(",")
    assert "notifier.example.org" in hosts
    assert {"notifier-web", "notifier-web.notifier.svc", "notifier-web.notifier.svc.cluster.local"} <= set(hosts)
    assert data["DJANGO_CSRF_TRUSTED_ORIGINS"] == "https://notifier.example.org"
    assert data["AWS_REGION"] == "eu-west-1"  # extra plain variables pass through
    assert configmap_data(renders["defaults"])["DJANGO_CSRF_TRUSTED_ORIGINS"] == ""
    explicit = render_objects(merged(ci_values("defaults"), {"env": {"DJANGO_ALLOWED_HOSTS": "api.example.net"}}))
    assert configmap_data(explicit)["DJANGO_ALLOWED_HOSTS"] == "api.example.net"


def test_schema_refuses_a_non_string_env_value():
    with pytest.raises(helm_python.HelmValuesError, match="env"):
        chart().validate_schema({"env": {"NOTIFIER_LEAD_MINUTES": 5}})
    chart().validate_schema({"env": {"NOTIFIER_LEAD_MINUTES": "5"}})


def test_schema_refuses_unknown_top_level_and_workload_keys():
    for values in ({"replicaCount": 2}, {"worker": {"replica": 3}}, {"image": {"tag": 1.2}}):
        with pytest.raises(helm_python.HelmValuesError):
            chart().validate_schema(values)


# --- 6: probes ------------------------------------------------------------------------------


def _flower_routes() -> list[str]:
    from flower.urls import handlers

    patterns = [handler[0] if isinstance(handler, tuple) else handler.regex.pattern for handler in handlers]
    return [pattern for pattern in patterns if pattern != ".*"]  # the catch-all 404 handler proves nothing


def probes(container: dict) -> dict[str, dict]:
    return {kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe") if kind in container}


def test_http_probe_paths_resolve_to_views(renders):
    checked = set()
    for objects in renders.values():
        for obj, template in workloads(objects):
            for container in containers(template["spec"]):
                for probe in probes(container).values():
                    if "httpGet" not in probe:
                        continue
                    path = probe["httpGet"]["path"]
                    assert probe["httpGet"]["port"] == "http"
                    assert "http" in [port["name"] for port in container["ports"]]
                    if component_of(obj) == "flower":
                        routes = _flower_routes()
                        assert any(re.fullmatch(route, path) for route in routes), f"flower has no route {path}"
                    else:
                        try:
                            resolve(path)
                        except Resolver404:
                            pytest.fail(f"{component_of(obj)} probes {path}, which no Django view serves")
                    checked.add((component_of(obj), path))
    assert checked == {("web", "/healthz"), ("web", "/readyz"), ("flower", "/healthcheck")}


def test_web_probes_are_startup_liveness_healthz_and_readiness_readyz(renders):
    web = deployment(renders["defaults"], "web")["spec"]["template"]["spec"]["containers"][0]
    found = {kind: (probe["httpGet"]["path"], probe["periodSeconds"]) for kind, probe in probes(web).items()}
    assert found == {
        "startupProbe": ("/healthz", 2),
        "livenessProbe": ("/healthz", 10),
        "readinessProbe": ("/readyz", 10),
    }


@pytest.mark.parametrize("name", CI_NAMES)
def test_exec_probes_check_the_heartbeat_of_their_own_role(renders, name):
    max_age = {"worker": "120", "beat": "60", "inbox": "120"}
    for obj, template in workloads(renders[name]):
        for container in template["spec"]["containers"]:
            found = probes(container)
            execs = [probe["exec"]["command"] for probe in found.values() if "exec" in probe]
            if component_of(obj) in HEARTBEAT_ROLES:
                assert set(found) == {"startupProbe", "livenessProbe"}
            for argv in execs:
                assert argv[:2] == ["python", "/app/config/heartbeat.py"]
                assert argv[2] in HEARTBEAT_ROLES and argv[2] == component_of(obj)
                assert argv[3:] == ["--max-age", max_age[argv[2]]]


def test_heartbeat_script_is_where_the_probes_run_it():
    assert (ROOT / "config" / "heartbeat.py").is_file()  # the image's WORKDIR is /app


# --- 7: security ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CI_NAMES)
def test_every_pod_and_container_is_locked_down(renders, name):
    pods = list(workloads(renders[name]))
    assert len(pods) == len(COMPONENTS) + 1  # five Deployments and the migrations Job
    for obj, template in pods:
        spec = template["spec"]
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["securityContext"] == POD_SECURITY_CONTEXT, where
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["serviceAccountName"] == "notifier", where
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in containers(spec):
            where = f"{obj['metadata']['name']}/{container['name']}"
            assert container["securityContext"] == CONTAINER_SECURITY_CONTEXT, where
            assert container["securityContext"].get("runAsUser", spec["securityContext"]["runAsUser"]) != 0, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{where} {bound}"
            (tmp,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
            assert "emptyDir" in volumes[tmp["name"]], where
            assert volumes[tmp["name"]]["emptyDir"]["sizeLimit"]


def test_resource_defaults_per_workload(renders):
    expected = {
        "web": ("100m", "256Mi", "1", "512Mi"),
        "worker": ("500m", "512Mi", "2", "1Gi"),
        "beat": ("50m", "192Mi", "500m", "384Mi"),
        "flower": ("50m", "192Mi", "500m", "384Mi"),
        "inbox": ("50m", "192Mi", "500m", "384Mi"),
        "migrate": ("100m", "256Mi", "1", "512Mi"),
        "wait-for-migrations": ("100m", "256Mi", "1", "512Mi"),
    }
    for _, template in workloads(renders["defaults"]):
        for container in containers(template["spec"]):
            resources = container["resources"]
            found = (
                resources["requests"]["cpu"], resources["requests"]["memory"],
                resources["limits"]["cpu"], resources["limits"]["memory"],
            )  # fmt: skip
            assert found == expected[container["name"]], container["name"]


def test_termination_grace_periods(renders):
    periods = {
        component: deployment(renders["defaults"], component)["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"
        ]
        for component in COMPONENTS
    }
    assert periods == {"web": 30, "worker": 150, "beat": 30, "flower": 30, "inbox": 40}
    assert periods["worker"] > 120  # Celery's hard task time limit: a warm shutdown outlasts it


def test_service_account_mounts_no_token_and_takes_annotations(renders):
    (account,) = of_kind(renders["ingress"], "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/notifier"
    }


# --- 8: hooks -------------------------------------------------------------------------------


def config_references(pod_spec: dict) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod reads: envFrom, env, volumes."""
    found = set()
    for container in containers(pod_spec):
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if key in source:
                    found.add((kind, source[key]["name"]))
        for variable in container.get("env", []):
            value_from = variable.get("valueFrom", {})
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if key in value_from:
                    found.add((kind, value_from[key]["name"]))
    for volume in pod_spec.get("volumes", []):
        sources = [volume, *volume.get("projected", {}).get("sources", [])]
        for source in sources:
            if "configMap" in source:
                found.add(("ConfigMap", source["configMap"]["name"]))
            if "secret" in source:
                found.add(("Secret", source["secret"].get("secretName") or source["secret"].get("name")))
    return found


def is_hook(obj: dict) -> bool:
    return "helm.sh/hook" in (obj["metadata"].get("annotations") or {})


def hook_violations(objects: list[dict]) -> list[str]:
    """Hooks that read a ConfigMap or Secret the release creates as a plain object: a
    pre-install hook runs before those exist (mastodon#21640)."""
    created = {(obj["kind"], obj["metadata"]["name"]) for obj in objects if not is_hook(obj)}
    violations = []
    for obj, template in workloads(objects):
        if is_hook(obj):
            for kind, name in sorted(config_references(template["spec"]) & created):
                violations.append(f"hook {obj['kind']}/{obj['metadata']['name']} reads {kind}/{name}")
    return violations


@pytest.mark.parametrize("name", CI_NAMES)
def test_nothing_a_hook_reads_is_created_after_it(renders, name):
    assert hook_violations(renders[name]) == []


def test_hook_rule_catches_a_hook_that_reads_the_release_configmap(renders):
    objects = renders["defaults"]
    job = json.loads(json.dumps(only(objects, "Job")))
    job["metadata"]["annotations"] = {"helm.sh/hook": "pre-install"}
    others = [obj for obj in objects if obj["kind"] != "Job"]
    assert hook_violations([*others, job]) == [
        f"hook Job/{job['metadata']['name']} reads ConfigMap/notifier-config",
        f"hook Job/{job['metadata']['name']} reads Secret/notifier",
    ]


# --- 9: migrations --------------------------------------------------------------------------


def migrate_job_name(values: dict) -> str:
    manifests = chart().render(values, name="notifier", namespace="notifier")  # no cache: a fresh render
    return yaml.safe_load(manifests["notifier/templates/migrate-job.yaml"])["metadata"]["name"]


def test_migrate_job_name_follows_its_pod_template():
    values = ci_values("defaults")
    name = migrate_job_name(values)
    assert re.fullmatch(r"notifier-migrate-[0-9a-f]{10}", name)
    assert migrate_job_name(values) == name  # helm template / ArgoCD renders stay stable
    assert migrate_job_name(merged(values, {"image": {"tag": "0.2.0"}})) != name  # Job templates are immutable
    assert migrate_job_name(merged(values, {"migrate": {"resources": {"limits": {"memory": "1Gi"}}}})) != name


def test_migrate_job_name_fits_a_label_value_with_a_long_release_name():
    objects = render_objects(ci_values("defaults"), name="a-very-long-release-name-for-the-notifier-engine-xyz")
    name = only(objects, "Job")["metadata"]["name"]
    assert len(name) <= 63 and re.search(r"-migrate-[0-9a-f]{10}$", name)
    assert all(len(obj["metadata"]["name"]) <= 63 for obj in objects)


@pytest.mark.parametrize("name", CI_NAMES)
def test_migrate_is_a_plain_job(renders, name):
    job = only(renders[name], "Job")
    assert not is_hook(job)
    assert job["spec"]["backoffLimit"] == 3
    assert job["spec"]["activeDeadlineSeconds"] == 900
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert not any(is_hook(obj) for obj in renders[name])


@pytest.mark.parametrize("name", CI_NAMES)
def test_every_workload_but_flower_waits_for_migrations(renders, name):
    for component, (obj,) in by_component(renders[name], "Deployment").items():
        init = [container["name"] for container in obj["spec"]["template"]["spec"].get("initContainers", [])]
        assert init == ([] if component == "flower" else ["wait-for-migrations"]), component


# --- 10: secrets ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", REQUIRED_SECRETS)
def test_rendering_without_a_required_secret_fails_naming_it(key):
    values = ci_values("defaults")
    del values["secretEnv"][key]
    message = render_error(values)
    assert f"secretEnv.{key}" in message and "existingSecret" in message


def test_flower_basic_auth_is_not_required_without_flower():
    values = merged(ci_values("defaults"), {"flower": {"enabled": False}})
    del values["secretEnv"]["FLOWER_BASIC_AUTH"]
    objects = render_objects(values)
    assert "flower" not in by_component(objects, "Deployment")
    assert "flower" not in by_component(objects, "Service")


def test_existing_secret_is_read_everywhere_and_no_secret_is_made(renders):
    values = merged(ci_values("keda"), {"existingSecret": "managed-elsewhere"})
    for objects, secret in (
        (renders["existing-secret"], "notifier-secrets"),
        (render_objects(values), "managed-elsewhere"),
    ):
        assert not of_kind(objects, "Secret")
        names = set()
        for _, template in workloads(objects):
            names |= {name for kind, name in config_references(template["spec"]) if kind == "Secret"}
            assert "checksum/secret" not in template["metadata"]["annotations"]
        for auth in of_kind(objects, "TriggerAuthentication"):
            names |= {ref["name"] for ref in auth["spec"]["secretTargetRef"]}
        assert names == {secret}
    assert "NOTIFIER_METRICS_TOKEN" in notes(ci_values("existing-secret"))


def test_web_and_flower_need_their_keys_from_the_secret(renders):
    def secret_key_refs(component):
        container = deployment(renders["defaults"], component)["spec"]["template"]["spec"]["containers"][0]
        return {
            variable["name"]: variable["valueFrom"]["secretKeyRef"]
            for variable in container.get("env", [])
            if "secretKeyRef" in variable.get("valueFrom", {})
        }

    assert secret_key_refs("web") == {
        "NOTIFIER_METRICS_TOKEN": {"name": "notifier", "key": "NOTIFIER_METRICS_TOKEN", "optional": False}
    }
    assert secret_key_refs("flower") == {
        "FLOWER_BASIC_AUTH": {"name": "notifier", "key": "FLOWER_BASIC_AUTH", "optional": False}
    }


def test_every_value_in_values_yaml_is_commented():
    """Each key has a comment right above it, or sits in a value documented as a whole by a
    "# --" comment (resources, podSecurityContext, ingress hosts); a section heading does not count."""
    uncommented, ancestors, previous = [], [], ""
    for number, line in enumerate((CHART_DIR / "values.yaml").read_text().splitlines(), start=1):
        key = re.match(r"^( *)([A-Za-z_][\w.-]*):", line)
        if key:
            indent = len(key.group(1))
            ancestors = [(depth, documents) for depth, documents in ancestors if depth < indent]
            inside_documented = any(documents for _, documents in ancestors)
            if not (previous.lstrip().startswith("#") or inside_documented):
                uncommented.append(f"{number}: {line.strip()}")
            ancestors.append((indent, inside_documented or previous.lstrip().startswith("# --")))
        previous = line
    assert uncommented == []


def test_values_yaml_holds_no_secret_value():
    defaults = chart().values["secretEnv"]
    assert set(defaults) == schema_secret_keys()
    assert {key: value for key, value in defaults.items() if value} == {}
    assert chart().values["existingSecret"] == ""


def test_empty_secret_values_are_left_out_of_the_secret(renders):
    data = secret_data(renders["defaults"])
    assert set(data) == set(REQUIRED_SECRETS)  # the optional keys are empty by default
    assert only(renders["defaults"], "Secret")["type"] == "Opaque"


# --- 11: pods roll when the configuration changes -------------------------------------------


def pod_annotations(objects: list[dict]) -> dict[str, dict[str, str]]:
    return {
        obj["kind"] + "/" + (component_of(obj) or ""): t["metadata"]["annotations"] for obj, t in workloads(objects)
    }


def test_checksums_change_when_the_configmap_or_the_secret_changes(renders):
    values = ci_values("defaults")
    before = pod_annotations(renders["defaults"])
    config_changed = pod_annotations(render_objects(merged(values, {"env": {"LOG_LEVEL": "DEBUG"}})))
    secret_changed = pod_annotations(
        render_objects(merged(values, {"secretEnv": {"REDIS_URL": "redis://other:6379/0"}}))
    )
    assert set(before) == {f"Deployment/{component}" for component in COMPONENTS} | {"Job/migrate"}
    for workload, old in before.items():
        assert config_changed[workload]["checksum/config"] != old["checksum/config"], workload
        assert config_changed[workload]["checksum/secret"] == old["checksum/secret"], workload
        assert secret_changed[workload]["checksum/secret"] != old["checksum/secret"], workload
        assert secret_changed[workload]["checksum/config"] == old["checksum/config"], workload


def test_pod_annotations_and_labels_from_values_reach_the_pods():
    values = merged(
        ci_values("defaults"),
        {
            "podAnnotations": {"team": "ops"},
            "podLabels": {"tier": "backend"},
            "worker": {"podLabels": {"tier": "queue"}},
        },
    )
    for obj, template in workloads(render_objects(values)):
        assert template["metadata"]["annotations"]["team"] == "ops"
        assert template["metadata"]["labels"]["tier"] == ("queue" if component_of(obj) == "worker" else "backend")


# --- NOTES ----------------------------------------------------------------------------------


def test_notes_tell_how_to_reach_the_admin_flower_and_create_the_first_operator():
    text = notes(ci_values("defaults"))
    assert "kubectl -n notifier port-forward svc/notifier-web 8000:80" in text
    assert "port-forward svc/notifier-flower 5555:5555" in text
    assert "exec -it deploy/notifier-web -c web -- python manage.py createsuperuser" in text
    assert "Authorization: Bearer" in text
    assert "https://notifier.example.org/admin/" in notes(ci_values("ingress"))
