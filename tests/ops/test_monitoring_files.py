"""The Grafana dashboard and the Prometheus alert rules in ops/ (issue 14): they parse,
and every metric they query is one the engine exports, as a real /metrics scrape shows
(promtool is not installed here, so PromQL gets a structural check, not a full parse)."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifier.metrics import count_outcome, observe_lags
from notifier.models import CanaryRun

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "ops" / "prometheus" / "alerts.yaml"
DASHBOARD = ROOT / "ops" / "grafana" / "notifier-dashboard.json"
CHART_ALERTS = ROOT / "helm" / "notifier" / "files" / "prometheus-alerts.yaml"

METRIC = re.compile(r"\b(notifier_[a-z0-9_]+)\b")
LE_LABEL = re.compile(r'le="([^"]+)"')
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d)$")


def alert_rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def balanced(expr: str) -> bool:
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    for char in re.sub(r'"[^"]*"', '""', expr):
        if char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            if depth[closing[char]] < 0:
                return False
    return not any(depth.values())


@pytest.fixture
def scraped(client, redis, db) -> dict[str, set[str]]:
    """Every sample name of a real scrape (with a canary received and a send observed, so the
    optional series are there), and the ``le`` values of the lag histogram's buckets."""
    count_outcome("sent")
    observe_lags([400])
    now = timezone.now()
    CanaryRun.objects.create(
        due_at=now - timedelta(seconds=5), received_at=now - timedelta(seconds=4), lag_ms=1000, state="received"
    )
    families = text_string_to_metric_families(client.get("/metrics").content.decode())
    samples = [sample for family in families for sample in family.samples]
    return {
        "names": {sample.name for sample in samples},
        "le": {sample.labels["le"] for sample in samples if "le" in sample.labels},
    }


def test_alert_rules_have_the_shape_prometheus_loads():
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert {"NotifierLagP99OverTarget", "NotifierOverdue", "NotifierCanaryMissing", "NotifierCanaryLate"} <= set(names)
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert DURATION.match(rule["for"]) and rule["labels"]["severity"] in {"page", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert balanced(rule["expr"]), rule["alert"]


def test_the_dashboard_is_a_grafana_dashboard_on_a_prometheus_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    (variable,) = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
    exprs = " ".join(dashboard_exprs())
    for wanted in ("histogram_quantile(0.5,", "histogram_quantile(0.99,", "notifier_notifications_total",
                   "notifier_overdue_notifications", "notifier_live_notifications", "notifier_canary_lag_seconds",
                   "notifier_canary_last_success_timestamp_seconds"):  # fmt: skip
        assert wanted in exprs
    assert all(balanced(expr) for expr in dashboard_exprs())


def test_every_metric_queried_is_one_the_engine_exports(scraped):
    queried = {
        name for expr in [*dashboard_exprs(), *(r["expr"] for r in alert_rules())] for name in METRIC.findall(expr)
    }
    assert queried, "no notifier metric found in the files"
    assert queried - scraped["names"] == set()
    buckets = {value for expr in dashboard_exprs() for value in LE_LABEL.findall(expr)}
    assert buckets <= scraped["le"]


def test_the_charts_rules_are_the_ops_file():
    assert CHART_ALERTS.read_text() == ALERTS.read_text(), "copy ops/prometheus/alerts.yaml to helm/notifier/files/"
