"""What every pod of the chart gets (issue 10): probes that hit real routes (web's Django
views, Flower's /healthcheck) or check the heartbeat of their own role, and a locked-down
security context, requests and limits, a /tmp emptyDir, grace periods (with a preStop pause
for web and Flower), optional priority class and spread constraints, and a ServiceAccount
without a token.
"""

from __future__ import annotations

import ast
import re

import helm_python
import kubernetes_validate
import pytest
from django.urls import Resolver404, resolve

from tests.deploy.chart import (
    CI_NAMES,
    COMPONENTS,
    KUBE_VERSION,
    ROOT,
    chart,
    ci_values,
    component_of,
    containers,
    deployment,
    merged,
    of_kind,
    render_objects,
    workloads,
)

SELECTOR_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")

HEARTBEAT_ROLES = ("worker", "beat", "inbox")

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


# --- probes ----------------------------------------------------------------------------------


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


# --- security --------------------------------------------------------------------------------


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
        "worker": ("1", "512Mi", "2", "1Gi"),  # one core per worker pod at concurrency 2 (README sizing)
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
    assert periods == {"web": 40, "worker": 150, "beat": 30, "flower": 30, "inbox": 40}
    assert periods["worker"] > 120  # Celery's hard task time limit: a warm shutdown outlasts it


def gunicorn_graceful_timeout() -> int:
    """graceful_timeout of config/gunicorn.py, the web pods' gunicorn config (read, not imported)."""
    tree = ast.parse((ROOT / "config" / "gunicorn.py").read_text())
    (value,) = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(target, "id", None) for target in node.targets] == ["graceful_timeout"]
    ]
    return value


def pre_stop_sleep(container: dict) -> int | None:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    if command is None:
        return None
    assert command[0] == "sleep" and len(command) == 2, command
    return int(command[1])


@pytest.mark.parametrize("name", CI_NAMES)
def test_web_and_flower_sleep_in_pre_stop_so_endpoints_drop_them_before_sigterm(renders, name):
    found = {}
    for component in COMPONENTS:
        spec = deployment(renders[name], component)["spec"]["template"]["spec"]
        (main,) = spec["containers"]
        found[component] = pre_stop_sleep(main)
        assert all("lifecycle" not in init for init in spec.get("initContainers", [])), component
    assert found == {"web": 5, "flower": 5, "worker": None, "beat": None, "inbox": None}


def test_web_grace_period_covers_pre_stop_and_gunicorn_graceful_timeout(renders):
    graceful = gunicorn_graceful_timeout()
    assert graceful == 25
    for component in ("web", "flower"):
        spec = deployment(renders["defaults"], component)["spec"]["template"]["spec"]
        grace, sleep = spec["terminationGracePeriodSeconds"], pre_stop_sleep(spec["containers"][0])
        # The preStop sleep counts within the grace period; gunicorn then needs graceful_timeout after SIGTERM.
        assert grace > sleep + (graceful if component == "web" else 0), component


def test_pre_stop_sleep_zero_means_no_pre_stop():
    values = merged(ci_values("defaults"), {"web": {"preStopSleepSeconds": 0}, "flower": {"preStopSleepSeconds": 0}})
    objects = render_objects(values)
    for component in ("web", "flower"):
        assert "lifecycle" not in deployment(objects, component)["spec"]["template"]["spec"]["containers"][0]
    objects = render_objects(merged(ci_values("defaults"), {"web": {"preStopSleepSeconds": 10}}))
    assert pre_stop_sleep(deployment(objects, "web")["spec"]["template"]["spec"]["containers"][0]) == 10


# --- scheduling ------------------------------------------------------------------------------

WORKLOADS = (*COMPONENTS, "migrate")
ZONE_SPREAD = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}


def test_no_priority_class_or_spread_constraints_by_default(renders):
    for _, template in workloads(renders["defaults"]):
        assert "priorityClassName" not in template["spec"]
        assert "topologySpreadConstraints" not in template["spec"]


def test_priority_class_and_spread_constraints_per_workload():
    given_selector = {"matchLabels": {"tier": "backend"}}
    values = ci_values("defaults")
    for workload in WORKLOADS:
        values = merged(values, {workload: {"priorityClassName": f"{workload}-priority"}})
        values[workload]["topologySpreadConstraints"] = [
            ZONE_SPREAD,
            {**ZONE_SPREAD, "topologyKey": "kubernetes.io/hostname", "labelSelector": given_selector},
        ]
    seen = set()
    for obj, template in workloads(render_objects(values)):
        workload, spec = component_of(obj), template["spec"]
        assert spec["priorityClassName"] == f"{workload}-priority"
        zone, host = spec["topologySpreadConstraints"]
        # A constraint without labelSelector counts the workload's own pods (it would count none).
        own = {key: value for key, value in template["metadata"]["labels"].items() if key in SELECTOR_LABELS}
        assert zone == {**ZONE_SPREAD, "labelSelector": {"matchLabels": own}}
        assert own["app.kubernetes.io/component"] == workload
        assert host["labelSelector"] == given_selector  # a given selector is kept
        validated = kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        assert validated == KUBE_VERSION
        seen.add(workload)
    assert seen == set(WORKLOADS)


def test_schema_checks_spread_constraints_and_priority_class():
    for workload in WORKLOADS:
        chart().validate_schema({workload: {"topologySpreadConstraints": [ZONE_SPREAD], "priorityClassName": "x"}})
        with pytest.raises(helm_python.HelmValuesError, match="topologySpreadConstraints"):
            chart().validate_schema({workload: {"topologySpreadConstraints": [{"maxSkew": 1}]}})
        with pytest.raises(helm_python.HelmValuesError, match="priorityClassName"):
            chart().validate_schema({workload: {"priorityClassName": 5}})


def test_service_account_mounts_no_token_and_takes_annotations(renders):
    (account,) = of_kind(renders["ingress"], "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/notifier"
    }
