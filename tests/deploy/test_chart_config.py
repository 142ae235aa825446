"""The chart's configuration (issue 10): every variable config/settings.py reads is supplied,
the ConfigMap's defaults are the settings' own, secrets are required and never defaulted
(chart Secret or existingSecret), pods roll when the ConfigMap or the Secret changes, and
NOTES.txt says how to reach the admin and Flower.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from tests.deploy.chart import (
    CI_NAMES,
    COMPONENTS,
    ROOT,
    by_component,
    chart,
    ci_values,
    component_of,
    config_references,
    containers,
    merged,
    notes,
    of_kind,
    only,
    render_error,
    render_objects,
    secret_data,
    workloads,
)

SETTINGS = ROOT / "config" / "settings.py"
REQUIRED_SECRETS = (
    "DJANGO_SECRET_KEY",
    "NOTIFIER_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "REDIS_URL",
    "FLOWER_BASIC_AUTH",
    "NOTIFIER_METRICS_TOKEN",
)


def schema_secret_keys() -> set[str]:
    return set(chart().schema["properties"]["secretEnv"]["properties"])


def configmap_data(objects: list[dict]) -> dict[str, str]:
    return only(objects, "ConfigMap")["data"]


# --- configuration: every setting the engine reads is supplied -------------------------------


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
    "DJANGO_SECURE_SSL_REDIRECT": "the ingress redirects; port-forward and in-cluster clients speak plain http",
    "DJANGO_HSTS_SECONDS": "off until the operator commits the domain to HTTPS (hard to undo)",
    "NOTIFIER_LOG_FORMAT": "json for the cluster's log pipeline; text stays the default at a terminal",
    "NOTIFIER_WORKER_PROCESSES": "computed by the chart: worker concurrency times its replicas",
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
    clean |= {"DJANGO_SECRET_KEY": "x", "DATABASE_URL": "postgres://u@db/n", "REDIS_URL": "redis://redis:6379/0",
              "NOTIFIER_ENCRYPTION_KEYS": "dGVzdHMtb25seS1ub3QtYS1zZWNyZXQta2V5LTAwMDA="}  # fmt: skip
    own_defaults = load_settings(names, clean)
    # The chart's own values stay out: one may feed a setting another variable also sets
    # (NOTIFIER_LOG_FORMAT and LOG_LEVEL both shape LOGGING).
    with_configmap = load_settings(names, clean | {k: v for k, v in data.items() if k not in CHART_OWN_VALUES})
    differing = {
        var: [name for name in targets if own_defaults[name] != with_configmap[name]]
        for var, targets in compared.items()
    }
    assert {var: names for var, names in differing.items() if names} == {}
    assert data["NOTIFIER_HEARTBEAT_DIR"] == "/tmp"  # the emptyDir every pod mounts


def test_the_chart_turns_json_logs_on_for_every_process(renders):
    """Issue 14: in the cluster every pod logs JSON (they all read the ConfigMap); text
    stays the code's own default, for a terminal."""
    data = configmap_data(renders["defaults"])
    assert data["NOTIFIER_LOG_FORMAT"] == "json"
    base = {key: value for key, value in os.environ.items() if not key.startswith(("NOTIFIER_", "DJANGO_"))}
    base |= {"DJANGO_SECRET_KEY": "x", "DATABASE_URL": "postgres://u@db/n", "REDIS_URL": "redis://redis:6379/0",
             "NOTIFIER_ENCRYPTION_KEYS": "dGVzdHMtb25seS1ub3QtYS1zZWNyZXQta2V5LTAwMDA="}  # fmt: skip
    names = ["NOTIFIER_LOG_FORMAT", "LOGGING"]
    assert load_settings(names, base)["NOTIFIER_LOG_FORMAT"] == "text"
    in_cluster = load_settings(names, base | data)
    assert in_cluster["LOGGING"]["handlers"]["console"]["formatter"] == "json"
    assert in_cluster["LOGGING"]["handlers"]["console"]["filters"] == ["contact_data"]


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


def test_the_ingress_counts_as_a_proxy_for_the_client_address(renders):
    """Behind the chart's ingress, REMOTE_ADDR is the controller's: without NUM_PROXIES=1 every
    client would share one anonymous rate and one login-lockout address."""
    assert configmap_data(renders["defaults"])["NOTIFIER_NUM_PROXIES"] == "0"
    assert configmap_data(renders["ingress"])["NOTIFIER_NUM_PROXIES"] == "1"
    explicit = render_objects(merged(ci_values("ingress"), {"env": {"NOTIFIER_NUM_PROXIES": "2"}}))
    assert configmap_data(explicit)["NOTIFIER_NUM_PROXIES"] == "2"


def test_the_forecast_counts_the_worker_pool_processes_the_chart_deploys(renders):
    """The dashboard's capacity is per pool process: the chart tells it how many it runs."""
    assert configmap_data(renders["defaults"])["NOTIFIER_WORKER_PROCESSES"] == "4"  # 2 pods x concurrency 2
    fewest = render_objects(merged(ci_values("hpa"), {"worker": {"concurrency": 3, "autoscaling": {"minReplicas": 5}}}))
    assert configmap_data(fewest)["NOTIFIER_WORKER_PROCESSES"] == "15"
    explicit = render_objects(merged(ci_values("defaults"), {"env": {"NOTIFIER_WORKER_PROCESSES": "7"}}))
    assert configmap_data(explicit)["NOTIFIER_WORKER_PROCESSES"] == "7"


def test_x_forwarded_proto_is_believed_only_behind_the_chart_ingress(renders):
    """Without an ingress in front, a client could send X-Forwarded-Proto itself and pass for
    HTTPS; behind the chart's ingress the controller overwrites it."""
    assert configmap_data(renders["defaults"])["DJANGO_BEHIND_PROXY"] == "false"
    assert configmap_data(renders["ingress"])["DJANGO_BEHIND_PROXY"] == "true"
    explicit = render_objects(merged(ci_values("defaults"), {"env": {"DJANGO_BEHIND_PROXY": "true"}}))
    assert configmap_data(explicit)["DJANGO_BEHIND_PROXY"] == "true"


# --- secrets ---------------------------------------------------------------------------------


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


# The keys each container needs from the Secret (helm/notifier/templates/_helpers.tpl,
# notifier.requiredSecretKeys): every container, the init containers and the migrate Job included.
COMMON_SECRETS = ("DJANGO_SECRET_KEY", "NOTIFIER_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL")
CONTAINER_SECRETS = {
    "web": (*COMMON_SECRETS, "NOTIFIER_METRICS_TOKEN"),
    "flower": (*COMMON_SECRETS, "FLOWER_BASIC_AUTH"),
    "worker": COMMON_SECRETS,
    "beat": COMMON_SECRETS,
    "inbox": COMMON_SECRETS,
    "migrate": COMMON_SECRETS,
    "wait-for-migrations": COMMON_SECRETS,
}


def secret_key_refs(container: dict) -> dict[str, dict]:
    return {
        variable["name"]: variable["valueFrom"]["secretKeyRef"]
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


@pytest.mark.parametrize(("name", "secret"), [("existing-secret", "notifier-secrets"), ("defaults", "notifier")])
def test_every_container_needs_its_required_keys_from_the_secret(renders, name, secret):
    """With existingSecret the chart cannot check the keys: a non-optional secretKeyRef keeps the
    pod from starting instead of DATABASE_URL or REDIS_URL falling back to the settings' localhost."""
    checked = set()
    for obj, template in workloads(renders[name]):
        for container in containers(template["spec"]):
            where = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
            expected = CONTAINER_SECRETS[container["name"]]
            refs = secret_key_refs(container)
            assert list(refs) == list(expected), where
            for key, ref in refs.items():
                assert ref == {"name": secret, "key": key, "optional": False}, where
            checked.add(container["name"])
    assert checked == set(CONTAINER_SECRETS)


def test_the_pods_require_exactly_the_keys_the_render_requires(renders):
    """One list: what validate refuses to render without is what the pods refuse to start without."""
    in_pods = set()
    for _, template in workloads(renders["defaults"]):
        for container in containers(template["spec"]):
            in_pods |= set(secret_key_refs(container))
    assert in_pods == set(REQUIRED_SECRETS)
    listed = notes(ci_values("existing-secret")).split("It must hold:\n", 1)[1].splitlines()[0]
    assert sorted(listed.strip().split(", ")) == sorted(REQUIRED_SECRETS)


def test_a_disabled_workload_own_key_is_not_required():
    values = merged(ci_values("defaults"), {"web": {"enabled": False}})
    del values["secretEnv"]["NOTIFIER_METRICS_TOKEN"]
    objects = render_objects(values)
    assert "web" not in by_component(objects, "Deployment")
    values = merged(ci_values("defaults"), {"web": {"enabled": False}, "worker": {"enabled": False}})
    del values["secretEnv"]["DATABASE_URL"]
    assert "secretEnv.DATABASE_URL" in render_error(values)  # beat, inbox and migrate still need it


def test_values_yaml_holds_no_secret_value():
    defaults = chart().values["secretEnv"]
    assert set(defaults) == schema_secret_keys()
    assert {key: value for key, value in defaults.items() if value} == {}
    assert chart().values["existingSecret"] == ""


def test_empty_secret_values_are_left_out_of_the_secret(renders):
    data = secret_data(renders["defaults"])
    assert set(data) == set(REQUIRED_SECRETS)  # the optional keys are empty by default
    assert only(renders["defaults"], "Secret")["type"] == "Opaque"


# --- pods roll when the configuration changes ------------------------------------------------


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


# --- NOTES -----------------------------------------------------------------------------------


def test_notes_tell_how_to_reach_the_admin_flower_and_create_the_first_operator():
    text = notes(ci_values("defaults"))
    assert "kubectl -n notifier port-forward svc/notifier-web 8000:80" in text
    assert "port-forward svc/notifier-flower 5555:5555" in text
    assert "exec -it deploy/notifier-web -c web -- python manage.py createsuperuser" in text
    assert "Authorization: Bearer" in text
    assert "https://notifier.example.org/admin/" in notes(ci_values("ingress"))
