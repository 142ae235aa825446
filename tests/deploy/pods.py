"""Run the chart's rendered workloads as podman containers, the way the kubelet would.

Each container gets its rendered command and args (``command`` replaces the image's
entrypoint, ``args`` its CMD), its environment resolved from the rendered ConfigMap and
Secret (a missing non-optional key fails, as it keeps a pod from starting), its security
context (user, read-only root filesystem, dropped capabilities, no privilege escalation),
its memory and CPU limits, and a fresh /tmp for its emptyDir. Probes are run as the
kubelet runs them: httpGet with the pod IP as Host, exec inside the container.

Every pod shares the host's network (the test's PostgreSQL, Redis and moto listen on
127.0.0.1), so the rendered container ports must be free ports.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.deploy.chart import by_component, of_kind
from tests.deploy.podman import Podman

POD_IP = "10.244.1.17"  # what the kubelet puts in the Host header of an httpGet probe


def quantity_bytes(value: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(value)


def quantity_cpus(value: str) -> float:
    return int(value[:-1]) / 1000 if value.endswith("m") else float(value)


@dataclass
class Manifests:
    """The rendered objects of one release."""

    objects: list[dict[str, Any]]

    def workload(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = by_component(self.objects, kind)[name]
        return found

    def _data(self, kind: str, name: str) -> dict[str, str] | None:
        for obj in of_kind(self.objects, kind):
            if obj["metadata"]["name"] == name:
                if kind == "Secret":
                    decoded = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
                    return decoded | (obj.get("stringData") or {})
                return dict(obj.get("data") or {})
        return None

    def configmap(self, name: str) -> dict[str, str] | None:
        return self._data("ConfigMap", name)

    def secret(self, name: str) -> dict[str, str] | None:
        return self._data("Secret", name)


def container_env(container: dict[str, Any], manifests: Manifests) -> dict[str, str]:
    """The environment the kubelet would give the container (envFrom first, env wins)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref_kind, lookup = (
            ("configMapRef", manifests.configmap) if "configMapRef" in source else ("secretRef", manifests.secret)
        )
        ref = source[ref_kind]
        data = lookup(ref["name"])
        if data is None:
            if ref.get("optional"):
                continue
            raise LookupError(f"{ref_kind} {ref['name']} is not in the release")
        env.update({source.get("prefix", "") + key: value for key, value in data.items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        for ref_kind, lookup in (("configMapKeyRef", manifests.configmap), ("secretKeyRef", manifests.secret)):
            ref = item.get("valueFrom", {}).get(ref_kind)
            if ref is None:
                continue
            data = lookup(ref["name"]) or {}
            if ref["key"] in data:
                env[item["name"]] = data[ref["key"]]
            elif not ref.get("optional"):
                raise LookupError(f"{item['name']}: key {ref['key']} is not in {ref['name']}")
    return env


@dataclass
class Container:
    """One running (or finished) container of a pod."""

    name: str
    spec: dict[str, Any]
    pod_spec: dict[str, Any]
    log: Path

    def port(self, port: int | str) -> int:
        if isinstance(port, int):
            return port
        (number,) = [p["containerPort"] for p in self.spec.get("ports", []) if p.get("name") == port]
        return number


@dataclass
class Pods:
    """Starts pod templates as containers on one podman and cleans them up."""

    podman: Podman
    manifests: Manifests
    image: str
    log_dir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    started: list[str] = field(default_factory=list)

    def run_args(self, name: str, pod_spec: dict[str, Any], container: dict[str, Any]) -> list[str]:
        pod_context = pod_spec.get("securityContext", {})
        context = {**pod_context, **container.get("securityContext", {})}
        user, group = context.get("runAsUser"), context.get("runAsGroup")
        assert user is not None and user != 0, f"{name}: the pod must name a non-root user"
        args = ["--name", name, "--hostname", name, "--network", "host", "--pull", "never",
                "--user", f"{user}:{group if group is not None else user}"]  # fmt: skip
        if pod_context.get("fsGroup") is not None:
            args += ["--group-add", str(pod_context["fsGroup"])]
        if context.get("readOnlyRootFilesystem"):
            args += ["--read-only", "--read-only-tmpfs=false"]
        if context.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        for capability in context.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", capability]
        limits = container.get("resources", {}).get("limits", {})
        if "memory" in limits:
            args += ["--memory", str(quantity_bytes(limits["memory"]))]
        if "cpu" in limits:
            args += ["--cpus", str(quantity_cpus(limits["cpu"]))]
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            assert "emptyDir" in volume, f"{name}: only emptyDir volumes are emulated, not {volume}"
            # A new, empty, world-writable directory per container, as an emptyDir is for a new pod.
            args += ["--mount", f"type=tmpfs,destination={mount['mountPath']},tmpfs-mode=1777"]
        for key, value in container_env(container, self.manifests).items():
            args += ["--env", f"{key}={value}"]
        if container.get("command"):
            args += ["--entrypoint", json.dumps(container["command"])]
        return [*args, self.image, *container.get("args", [])]

    def start(self, pod_spec: dict[str, Any], container: dict[str, Any], *, pod: str) -> Container:
        name = f"nt-{self.run_id}-{pod}-{container['name']}"
        self.podman("rm", "--force", name, check=False)
        self.podman("run", "--detach", *self.run_args(name, pod_spec, container))
        self.started.append(name)
        return Container(name, container, pod_spec, self.log_dir / f"{pod}-{container['name']}.log")

    def run_to_completion(
        self, pod_spec: dict[str, Any], container: dict[str, Any], *, pod: str, timeout: float
    ) -> int:
        started = self.start(pod_spec, container, pod=pod)
        result = self.podman("wait", started.name, timeout=timeout)
        self.save_log(started)
        return int(result.stdout.strip())

    def start_pod(self, workload: dict[str, Any], *, pod: str, init_timeout: float = 120) -> list[Container]:
        """Init containers one after the other to success, then the containers."""
        pod_spec = workload["spec"]["template"]["spec"]
        for init in pod_spec.get("initContainers", []):
            code = self.run_to_completion(pod_spec, init, pod=pod, timeout=init_timeout)
            assert code == 0, f"init container {init['name']} of {pod} exited {code}; see {self.log_dir}"
        return [self.start(pod_spec, container, pod=pod) for container in pod_spec["containers"]]

    def stop(self, container: Container) -> tuple[int, float]:
        """The preStop hook, SIGTERM, then SIGKILL at the end of the pod's grace period (which
        the hook's time counts against); (exit code, seconds taken)."""
        grace = container.pod_spec.get("terminationGracePeriodSeconds", 30)
        started = time.monotonic()
        pre_stop = container.spec.get("lifecycle", {}).get("preStop", {}).get("exec")
        if pre_stop:
            self.exec(container, *pre_stop["command"])
        remaining = max(1, round(grace - (time.monotonic() - started)))
        self.podman("stop", "--time", str(remaining), container.name, timeout=grace + 30)
        elapsed = time.monotonic() - started
        code = self.podman("inspect", "--format", "{{.State.ExitCode}}", container.name).stdout.strip()
        self.save_log(container)
        return int(code), elapsed

    def exec(self, container: Container, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        flags = [item for key, value in (env or {}).items() for item in ("--env", f"{key}={value}")]
        result = self.podman("exec", *flags, container.name, *argv, check=False, timeout=60)
        return result.returncode, result.stdout + result.stderr

    def running(self, container: Container) -> bool:
        result = self.podman("inspect", "--format", "{{.State.Running}}", container.name, check=False)
        return result.stdout.strip() == "true"

    def probe(self, container: Container, probe: dict[str, Any]) -> tuple[bool, str]:
        """One probe attempt as the kubelet makes it: (passed, what it saw)."""
        timeout = probe.get("timeoutSeconds", 1)
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = container.port(get["port"])
            headers = {"Host": f"{POD_IP}:{port}"} | {h["name"]: h["value"] for h in get.get("httpHeaders", [])}
            try:
                reply = requests.get(
                    f"http://127.0.0.1:{port}{get.get('path', '/')}", headers=headers, timeout=timeout,
                    allow_redirects=False,
                )  # fmt: skip
            except requests.RequestException as exc:
                return False, f"GET {get.get('path')}: {exc}"
            return 200 <= reply.status_code < 400, f"GET {get.get('path')}: {reply.status_code} {reply.text[:200]}"
        if "exec" in probe:
            started = time.monotonic()
            code, output = self.exec(container, *probe["exec"]["command"])
            took = time.monotonic() - started
            return code == 0 and took <= timeout + 1, f"exec {probe['exec']['command']}: {code} in {took:.2f}s {output}"
        raise AssertionError(f"unsupported probe {probe}")

    def wait_probe(self, container: Container, kind: str) -> str:
        """Retry ``kind`` (startupProbe, readinessProbe, livenessProbe) within its budget."""
        probe = container.spec.get(kind)
        assert probe is not None, f"{container.name} has no {kind}"
        period = probe.get("periodSeconds", 10)
        budget = probe.get("initialDelaySeconds", 0) + period * max(probe.get("failureThreshold", 3), 1)
        deadline = time.monotonic() + budget
        while True:
            passed, seen = self.probe(container, probe)
            if passed:
                return seen
            if time.monotonic() >= deadline or not self.running(container):
                self.save_log(container)
                raise AssertionError(f"{kind} of {container.name} failed for {budget} s: {seen}; see {container.log}")
            time.sleep(min(period, 1.0))

    def wait_started(self, container: Container) -> str:
        """The startup probe, or the first probe the kubelet runs when there is none."""
        kind = next(k for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in container.spec)
        return self.wait_probe(container, kind)

    def save_log(self, container: Container) -> None:
        container.log.parent.mkdir(parents=True, exist_ok=True)
        result = self.podman("logs", container.name, check=False)
        container.log.write_text(result.stdout + result.stderr)

    def remove_all(self) -> None:
        for name in self.started:
            self.podman("rm", "--force", "--time", "1", name, check=False, timeout=60)
