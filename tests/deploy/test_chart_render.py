"""The Helm chart (helm/notifier) as Helm and Kubernetes see it (issue 10).

Rendered by Helm's own engine (helm-python-sdk) with each ``helm/notifier/ci/*-values.yaml``,
linted strictly, every object validated against the Kubernetes 1.30 schemas
(kubernetes-validate, strict); values.schema.json refuses wrong types and unknown keys,
values.yaml documents every value, and nothing a hook reads is created after it.
No database, Redis or cluster is needed.
"""

from __future__ import annotations

import json
import re

import helm_python
import kubernetes_validate
import pytest

from tests.deploy.chart import (
    CHART_DIR,
    CI_NAMES,
    KUBE_VERSION,
    chart,
    ci_values,
    config_references,
    is_hook,
    only,
    workloads,
)

# Custom resources, which kubernetes-validate has no schema for: KEDA's and the Prometheus Operator's.
CRD_KINDS = {
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
}


def test_ci_values_cover_the_required_scenarios():
    assert {"defaults", "existing-secret", "keda", "ingress", "hpa"} <= set(CI_NAMES)


# --- lint and Kubernetes schema validation ---------------------------------------------------


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
            # A CRD kind is allowed by name; it still has to be a well-formed object of its API.
            assert obj["apiVersion"] == CRD_KINDS[obj["kind"]]
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


# --- values.schema.json and values.yaml ------------------------------------------------------


def test_schema_refuses_a_non_string_env_value():
    with pytest.raises(helm_python.HelmValuesError, match="env"):
        chart().validate_schema({"env": {"NOTIFIER_LEAD_MINUTES": 5}})
    chart().validate_schema({"env": {"NOTIFIER_LEAD_MINUTES": "5"}})


def test_schema_refuses_unknown_top_level_and_workload_keys():
    for values in ({"replicaCount": 2}, {"worker": {"replica": 3}}, {"image": {"tag": 1.2}}):
        with pytest.raises(helm_python.HelmValuesError):
            chart().validate_schema(values)


@pytest.mark.parametrize("quantity", ["lots", "1 Gi", "-1", "500mi", "1.5.0", "", -1])
def test_schema_refuses_a_resource_quantity_kubernetes_would_not_parse(quantity):
    for resources in ({"requests": {"cpu": quantity}}, {"limits": {"memory": quantity}}):
        with pytest.raises(helm_python.HelmValuesError, match="resources"):
            chart().validate_schema({"worker": {"resources": resources}})
    with pytest.raises(helm_python.HelmValuesError, match="tmpSizeLimit"):
        chart().validate_schema({"tmpSizeLimit": quantity})


def test_schema_accepts_kubernetes_quantities():
    for quantity in ("1", "2", "500m", "0.5", "1.5", "256Mi", "1Gi", "512M", "100k", 1, 0.5):
        chart().validate_schema({"worker": {"resources": {"requests": {"cpu": quantity, "memory": quantity}}}})
        chart().validate_schema({"tmpSizeLimit": quantity})


def test_wait_for_migrations_is_the_init_container_key_and_migrations_is_gone():
    """Renamed so the init container's settings are not mistaken for the migrate Job's."""
    assert set(chart().values["waitForMigrations"]) == {"waitTimeoutSeconds", "resources"}
    assert "migrations" not in chart().values
    chart().validate_schema({"waitForMigrations": {"waitTimeoutSeconds": 60}})
    with pytest.raises(helm_python.HelmValuesError, match="migrations"):
        chart().validate_schema({"migrations": {"waitTimeoutSeconds": 60}})


def comment_above(key_line: str) -> str:
    """The comment lines right above the (unique) line ``key_line`` of values.yaml, joined."""
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    (index,) = [number for number, line in enumerate(lines) if line == key_line]
    comment = []
    for line in reversed(lines[:index]):
        if not line.lstrip().startswith("#"):
            break
        comment.insert(0, line.strip().lstrip("#").strip())
    return " ".join(comment)


def test_values_yaml_says_what_reruns_migrate_and_what_switching_on_an_autoscaler_does():
    migrate = comment_above("migrate:")
    assert "checksum/config" in migrate and "checksum/secret" in migrate
    assert "ConfigMap or Secret change" in migrate and "beat schedule" in migrate
    autoscaling = comment_above("  autoscaling:")
    assert "three-way merge" in autoscaling and "defaults it to 1" in autoscaling
    assert "minReplicas" in autoscaling and "same upgrade" in autoscaling
    assert "drops the workers to one pod" in comment_above("  keda:")


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


# --- hooks -----------------------------------------------------------------------------------


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
