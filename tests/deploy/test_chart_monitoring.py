"""The chart's Prometheus Operator objects (issue 14): off by default; the ServiceMonitor
scrapes the web Service's /metrics with the metrics token of the release's Secret; the
PrometheusRule carries exactly the rules of ops/prometheus/alerts.yaml."""

from __future__ import annotations

import yaml

from tests.deploy.chart import CHART_DIR, ROOT, by_component, ci_values, merged, of_kind, only, render_objects

OPS_RULES = ROOT / "ops" / "prometheus" / "alerts.yaml"
CHART_RULES = CHART_DIR / "files" / "prometheus-alerts.yaml"


def test_defaults_make_no_monitoring_objects(renders):
    for name in ("defaults", "existing-secret", "keda"):
        assert not of_kind(renders[name], "ServiceMonitor") and not of_kind(renders[name], "PrometheusRule")


def test_service_monitor_scrapes_the_web_service_metrics_with_the_token(renders):
    objects = renders["monitoring"]
    monitor = only(objects, "ServiceMonitor")
    (service,) = by_component(objects, "Service")["web"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert selector == service["spec"]["selector"]  # the web Service's own labels, not the pods' extras
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in [port["name"] for port in service["spec"]["ports"]]
    assert endpoint["path"] == "/metrics"
    secret = only(objects, "Secret")
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": secret["metadata"]["name"], "key": "NOTIFIER_METRICS_TOKEN"},
    }
    assert "NOTIFIER_METRICS_TOKEN" in secret["data"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [service["metadata"]["namespace"]]}


def test_service_monitor_reads_the_token_from_an_existing_secret():
    values = merged(ci_values("monitoring"), {"existingSecret": "notifier-secrets"})
    monitor = only(render_objects(values), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["authorization"]["credentials"]["name"] == "notifier-secrets"


def test_no_service_monitor_without_the_web_service():
    values = merged(ci_values("monitoring"), {"web": {"enabled": False}})
    assert not of_kind(render_objects(values), "ServiceMonitor")


def test_prometheus_rule_is_the_ops_alerts_file(renders):
    rule = only(renders["monitoring"], "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(OPS_RULES.read_text())
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert CHART_RULES.read_text() == OPS_RULES.read_text(), "copy ops/prometheus/alerts.yaml into the chart"


def test_canary_interval_is_configured_in_the_chart(renders):
    assert only(renders["defaults"], "ConfigMap")["data"]["NOTIFIER_CANARY_INTERVAL_SECONDS"] == "300"
