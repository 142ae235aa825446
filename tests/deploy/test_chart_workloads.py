"""The chart's workloads on their rendered manifests (issue 10): each component labelled and
running its process of the one image, beat a singleton that nothing autoscales, the worker's
replica count left to its autoscaler (HPA or KEDA), PodDisruptionBudgets, and the
migrations as a plain Job whose name follows its pod template while the workloads wait.
"""

from __future__ import annotations

import re

import helm_python
import pytest
import yaml

from delivery.models import ACTIVE_STATES
from tests.deploy.chart import (
    CI_NAMES,
    COMPONENTS,
    ROOT,
    by_component,
    chart,
    ci_values,
    component_of,
    containers,
    deployment,
    is_hook,
    merged,
    of_kind,
    only,
    render_error,
    render_objects,
    secret_data,
    workloads,
)

# The argv of each process of the one image (fixed by the Dockerfile and the code), with the chart's defaults.
COMMANDS = {
    "web": ["gunicorn", "config.wsgi", "--config", "python:config.gunicorn", "--bind", "0.0.0.0:8000"],
    "worker": ["celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"],
    # --quiet: no plain-text banner among the JSON lines.
    "beat": [
        "celery",
        "-A",
        "config",
        "--quiet",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        "/tmp/celerybeat-schedule",
    ],
    "flower": ["python", "-m", "notifier.flower", "--port=5555", "--address=0.0.0.0"],
    "inbox": ["python", "manage.py", "consume_inbox"],
    "migrate": ["python", "manage.py", "migrate", "--noinput"],
    "wait-for-migrations": ["python", "manage.py", "wait_for_migrations", "--timeout", "900"],
}


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


# --- beat is a singleton ---------------------------------------------------------------------


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


# --- worker autoscaling ----------------------------------------------------------------------


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


PROMETHEUS_TRIGGER = {
    "type": "prometheus",
    "metadata": {
        "serverAddress": "http://prometheus.monitoring:9090",
        "query": 'max(notifier_live_notifications{state="armed"})',
        "threshold": "2000",
    },
}
REDIS_METADATA = {
    "address": "redis:6379",
    "databaseIndex": "0",
    "listName": "celery",
    "listLength": "20",
    "enableTLS": "false",
}


def keda_values(**keda) -> dict:
    return merged(ci_values("defaults"), {"worker": {"keda": {"enabled": True, **keda}}})


def test_keda_scales_the_worker_on_armed_notifications_and_the_celery_queue(renders):
    objects = renders["keda"]
    scaled = only(objects, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment(objects, "worker")["metadata"]["name"]
    redis, prometheus = scaled["spec"]["triggers"]
    assert prometheus == PROMETHEUS_TRIGGER
    assert redis["type"] == "redis"
    assert redis["metadata"] == REDIS_METADATA
    auth = only(objects, "TriggerAuthentication")
    assert redis["authenticationRef"] == {"name": auth["metadata"]["name"]}
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref == {
        "parameter": "password",
        "name": only(objects, "Secret")["metadata"]["name"],
        "key": "REDIS_PASSWORD",
    }
    assert secret_data(objects)["REDIS_PASSWORD"]


def test_keda_prometheus_query_reads_the_gauge_web_serves():
    """The default query names a gauge /metrics really serves, with the "armed" state."""
    metrics = (ROOT / "notifier" / "metrics.py").read_text()
    query = chart().values["worker"]["keda"]["prometheus"]["query"]
    (name, state) = re.fullmatch(r'max\((\w+)\{state="(\w+)"\}\)', query).groups()
    assert f'GaugeMetricFamily("{name}"' in metrics
    assert "for state in ACTIVE_STATES" in metrics  # one gauge sample per live state
    assert state in ACTIVE_STATES


def test_keda_with_prometheus_only_has_one_trigger_and_no_authentication():
    values = keda_values(prometheus={"serverAddress": "http://prometheus.monitoring:9090"})
    values["worker"]["keda"]["redis"] = {"passwordSecretKey": "REDIS_PASSWORD"}  # ignored without an address
    objects = render_objects(values)
    assert only(objects, "ScaledObject")["spec"]["triggers"] == [PROMETHEUS_TRIGGER]
    assert not of_kind(objects, "TriggerAuthentication")


def test_keda_prometheus_auth_modes_pass_through_when_set():
    values = keda_values(prometheus={"serverAddress": "https://prom:9090", "authModes": "bearer", "threshold": "500"})
    (trigger,) = only(render_objects(values), "ScaledObject")["spec"]["triggers"]
    assert trigger["metadata"] == {
        "serverAddress": "https://prom:9090",
        "query": 'max(notifier_live_notifications{state="armed"})',
        "threshold": "500",
        "authModes": "bearer",
    }


def test_keda_with_redis_only_and_no_password_key_needs_no_trigger_authentication():
    objects = render_objects(keda_values(redis={"address": "redis:6379"}))
    assert not of_kind(objects, "TriggerAuthentication")
    (trigger,) = only(objects, "ScaledObject")["spec"]["triggers"]
    assert trigger == {"type": "redis", "metadata": REDIS_METADATA}


def test_keda_with_extra_triggers_only_renders_them_verbatim():
    cpu = {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
    objects = render_objects(keda_values(extraTriggers=[cpu]))
    assert only(objects, "ScaledObject")["spec"]["triggers"] == [cpu]


def test_hpa_and_keda_together_fail_to_render():
    values = merged(ci_values("keda"), {"worker": {"autoscaling": {"enabled": True}}})
    message = render_error(values)
    assert "worker.autoscaling.enabled" in message and "worker.keda.enabled" in message


def test_keda_without_any_trigger_fails_to_render():
    message = render_error(keda_values())
    assert "no trigger" in message
    for key in ("worker.keda.prometheus.serverAddress", "worker.keda.redis.address", "worker.keda.extraTriggers"):
        assert key in message


def test_keda_password_key_missing_from_the_secret_fails_to_render():
    values = keda_values(redis={"address": "r:6379", "passwordSecretKey": "REDIS_PASSWORD"})
    assert "secretEnv.REDIS_PASSWORD" in render_error(values)


def test_schema_refuses_a_malformed_prometheus_trigger():
    for prometheus in ({"threshold": 2000}, {"serverAddress": "prometheus:9090"}, {"query": ""}, {"address": "x"}):
        with pytest.raises(helm_python.HelmValuesError, match="prometheus"):
            chart().validate_schema({"worker": {"keda": {"prometheus": prometheus}}})


@pytest.mark.parametrize("name", CI_NAMES)
def test_disruption_budgets_allow_one_pod_down_for_web_and_worker(renders, name):
    budgets = {component_of(pdb): pdb["spec"] for pdb in of_kind(renders[name], "PodDisruptionBudget")}
    assert set(budgets) == {"web", "worker"}
    for component, spec in budgets.items():
        assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec
        assert (
            spec["selector"]["matchLabels"] == deployment(renders[name], component)["spec"]["selector"]["matchLabels"]
        )


# --- migrations ------------------------------------------------------------------------------


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


def test_a_configmap_or_secret_change_reruns_migrate():
    """The hash covers the checksum annotations: a new configuration re-runs migrate (and the beat sync)."""
    values = ci_values("defaults")
    name = migrate_job_name(values)
    assert migrate_job_name(merged(values, {"env": {"NOTIFIER_PLAN_CRON": "0 4 * * *"}})) != name
    assert migrate_job_name(merged(values, {"secretEnv": {"REDIS_URL": "redis://other:6379/0"}})) != name
    # A change to a workload that is not the Job's own leaves the Job alone.
    assert migrate_job_name(merged(values, {"web": {"replicas": 3}})) == name


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


def test_wait_for_migrations_values_reach_every_init_container():
    resources = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    values = merged(ci_values("defaults"), {"waitForMigrations": {"waitTimeoutSeconds": 60, "resources": resources}})
    found = set()
    for obj, template in workloads(render_objects(values)):
        for init in template["spec"].get("initContainers", []):
            assert init["args"] == ["python", "manage.py", "wait_for_migrations", "--timeout", "60"]
            assert init["resources"] == resources
            found.add(component_of(obj))
    assert found == {"web", "worker", "beat", "inbox"}
