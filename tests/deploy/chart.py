"""Render helm/notifier offline with helm-python-sdk (Helm's own engine, no helm binary, no cluster).

``render_objects(values)`` gives the Kubernetes objects of one release, the way
``helm template`` would; the chart tests and the image test both start from it. The
helpers at the end are shared by the chart test modules (``test_chart_*.py``).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "notifier"
CI_VALUES_DIR = CHART_DIR / "ci"
RELEASE = "notifier"
NAMESPACE = "notifier"
KUBE_VERSION = "1.30"  # the oldest Kubernetes the checks hold the chart to (lint and schema validation)

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


@functools.cache
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART_DIR)


def ci_values_files() -> list[Path]:
    return sorted(CI_VALUES_DIR.glob("*-values.yaml"))


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, maps recursively (as Helm merges -f files)."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


@functools.lru_cache(maxsize=64)
def _render_cached(values_json: str, name: str, namespace: str) -> dict[str, str]:
    return chart().render(json.loads(values_json), name=name, namespace=namespace)


def render_manifests(values: dict[str, Any], *, name: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, str]:
    """{template path: rendered text}; raises helm_python.HelmError (e.g. a ``fail``) like ``helm template``."""
    return dict(_render_cached(json.dumps(values, sort_keys=True), name, namespace))


def render_objects(values: dict[str, Any], *, name: str = RELEASE, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """Every Kubernetes object the release would create, in template order (NOTES.txt left out)."""
    objects = []
    for path, text in sorted(render_manifests(values, name=name, namespace=namespace).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return copy.deepcopy(objects)


def notes(values: dict[str, Any]) -> str:
    manifests = render_manifests(values)
    return next((text for path, text in manifests.items() if path.endswith("NOTES.txt")), "")


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def component_of(obj: dict[str, Any]) -> str | None:
    return (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/component")


def by_component(objects: list[dict[str, Any]], kind: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for obj in of_kind(objects, kind):
        found.setdefault(component_of(obj) or "", []).append(obj)
    return found


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template of a workload object, or None for other kinds."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if obj["kind"] in WORKLOAD_KINDS:
        return obj["spec"]["template"]
    return None


def workloads(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, pod template) of every object that runs pods."""
    for obj in objects:
        template = pod_template(obj)
        if template is not None:
            yield obj, template


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Init containers and containers of a pod spec."""
    return [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]


# --- Shared by the chart test modules ------------------------------------------------------

CI_FILES = {path.name.removesuffix("-values.yaml"): path for path in ci_values_files()}
CI_NAMES = sorted(CI_FILES)
COMPONENTS = ("web", "worker", "beat", "flower", "inbox")


def ci_values(name: str) -> dict:
    return load_values(CI_FILES[name])


def deployment(objects: list[dict], component: str) -> dict:
    (found,) = by_component(objects, "Deployment")[component]
    return found


def only(objects: list[dict], kind: str) -> dict:
    (found,) = of_kind(objects, kind)
    return found


def secret_data(objects: list[dict]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in only(objects, "Secret")["data"].items()}


def render_error(values: dict) -> str:
    with pytest.raises(helm_python.HelmError) as caught:
        chart().render(values, name="notifier", namespace="notifier")
    return str(caught.value)


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
