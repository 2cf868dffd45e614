"""The `observability` compose profile: its configuration files parse, the collector takes
OTLP and sends traces on, Prometheus scrapes the API where compose serves it, and Grafana
is given the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from infrastructure.settings import Settings
from tests.unit.api.test_compose import services

EXAMPLES = Path(__file__).parents[3] / "examples" / "observability"
DASHBOARD = EXAMPLES / "grafana" / "dashboards" / "chronicle.json"
METRIC = re.compile(r"\bchronicle_[a-z0-9_]+")
PROFILE = ("otel-collector", "jaeger", "prometheus", "grafana")


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def dashboard_metrics() -> set[str]:
    """Every metric name the dashboard's queries read."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {name for p in panels for t in p["targets"] for name in METRIC.findall(t["expr"])}


def container_port(service: dict[str, Any], published: int) -> int:
    for mapping in service["ports"]:
        host, _, inside = str(mapping).rpartition(":")
        if int(host) == published:
            return int(inside)
    raise AssertionError(f"port {published} is not published")


def test_the_profile_runs_a_collector_jaeger_prometheus_and_grafana_on_mounted_files() -> None:
    for name in PROFILE:
        service = services()[name]
        assert service["profiles"] == ["observability"], name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert (EXAMPLES.parents[1] / source).exists(), f"{name} mounts {source}"


def test_the_collector_receives_otlp_and_sends_traces_to_jaeger() -> None:
    config = load(EXAMPLES / "collector.yaml")
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    traces = config["service"]["pipelines"]["traces"]
    assert "otlp" in traces["receivers"]
    for exporter in traces["exporters"]:
        assert exporter in config["exporters"]
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    collector = services()["otel-collector"]
    assert {"4317:4317", "4318:4318"} <= set(collector["ports"])


def test_prometheus_scrapes_the_api_on_the_port_compose_serves_it() -> None:
    jobs = load(EXAMPLES / "prometheus.yml")["scrape_configs"]
    (job,) = [j for j in jobs if j["job_name"] == "chronicle-api"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    (target,) = [t for c in job["static_configs"] for t in c["targets"]]
    host, _, port = target.partition(":")
    assert host == "api" and "api" in services()
    assert int(port) == container_port(services()["api"], Settings().port)


def test_grafana_is_given_prometheus_and_the_dashboard() -> None:
    provisioning = EXAMPLES / "grafana" / "provisioning"
    sources = load(provisioning / "datasources" / "datasources.yaml")["datasources"]
    uids = {s["uid"]: s for s in sources}
    assert uids["prometheus"]["url"] == "http://prometheus:9090"
    providers = load(provisioning / "dashboards" / "dashboards.yaml")["providers"]
    mounted = {v.split(":")[1] for v in services()["grafana"]["volumes"]}
    assert {p["options"]["path"] for p in providers} <= mounted
    panels = json.loads(DASHBOARD.read_text())["panels"]
    for panel in panels:
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids, panel["title"]
    assert len(dashboard_metrics()) >= 15
