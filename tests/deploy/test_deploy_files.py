"""deploy/: the Kubernetes manifests validate against Kubernetes' schemas, and every file refers to things that exist.

Nothing here builds an image or talks to a cluster (there is no Docker daemon or cluster on these machines): the
manifests are checked with kubernetes-validate's bundled schemas, and the references (labels, secrets, metric
names, files an image copies) against the repository and the code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.test_imports import _graph as import_graph

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.30"


def documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return out


DOCS = documents()


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[name for name, _ in DOCS])
def test_manifest_validates_against_the_kubernetes_schema(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in DOCS if doc["kind"] == kind]


def test_every_process_has_a_deployment_service_autoscaler_and_disruption_budget() -> None:
    deployments = {d["metadata"]["name"]: d for d in by_kind("Deployment")}
    assert set(deployments) == {"shop-gateway", "shop-rasa", "shop-actions"}
    for service in by_kind("Service"):
        selector = service["spec"]["selector"]
        assert any(
            selector.items() <= d["spec"]["template"]["metadata"]["labels"].items() for d in deployments.values()
        ), service["metadata"]["name"]
    assert {h["spec"]["scaleTargetRef"]["name"] for h in by_kind("HorizontalPodAutoscaler")} == set(deployments)
    assert len(by_kind("PodDisruptionBudget")) == 3
    for deployment in deployments.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert "readinessProbe" in container and "livenessProbe" in container


def test_secrets_and_settings_referenced_exist() -> None:
    secret_keys = set(by_kind("Secret")[0]["stringData"])
    config_names = {c["metadata"]["name"] for c in by_kind("ConfigMap")}
    for deployment in by_kind("Deployment") + [j["spec"] for j in by_kind("Job")]:
        spec = deployment["spec"]["template"]["spec"] if "spec" in deployment else deployment["template"]["spec"]
        for container in spec["containers"]:
            for ref in container.get("envFrom", []):
                if "configMapRef" in ref:
                    assert ref["configMapRef"]["name"] in config_names
            for env in container.get("env", []):
                key = env.get("valueFrom", {}).get("secretKeyRef", {}).get("key")
                if key:
                    assert key in secret_keys, key


def metric_names() -> set[str]:
    """Every metric name the gateway and the action server export (with their _total/_bucket forms)."""
    from connectors.metrics import GatewayMetrics
    from observability import action_server

    names: set[str] = set()
    for registry in (GatewayMetrics().registry, action_server.registry):
        for family in registry.collect():
            names.add(family.name)
            names.update({f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_count"})
    source = (ROOT / "connectors" / "metrics.py").read_text()
    names.update(re.findall(r'"(shop_gateway_[a-z_]+)"', source))
    names.update(f"{n}_total" for n in re.findall(r'"(shop_gateway_[a-z_]+)"', source))
    return names


def test_dashboard_and_autoscaler_rules_use_metrics_the_code_exports() -> None:
    known = metric_names()
    dashboard = json.loads((DEPLOY / "grafana" / "shop-assistant.json").read_text())
    rules = by_kind("ConfigMap")
    texts = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    texts += [value for c in rules for value in c.get("data", {}).values()]
    used = {m for text in texts for m in re.findall(r"\b(shop_[a-z0-9_]+)", text)}
    used -= {"shop_gateway_turns_per_second", "shop_actions_runs_per_second", "shop_turn_p95_seconds"}  # made here
    assert used, "no metric found in the dashboard"
    assert used <= known, sorted(used - known)


def test_images_copy_files_that_exist_and_run_modules_that_exist() -> None:
    for dockerfile in (DEPLOY / "docker").glob("Dockerfile.*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    if source != "models/current.tar.gz":  # built by `make model` before the image
                        assert (ROOT / source).exists(), f"{dockerfile.name}: {source}"
    for module in ("gateway", "connectors", "rasa_sdk_plugins", "observability", "bot"):
        assert (ROOT / module / "__init__.py").exists()


@pytest.mark.parametrize(
    ("dockerfile", "roots"), [("Dockerfile.gateway", ["gateway.__main__"]), ("Dockerfile.actions", ["actions"])]
)
def test_images_copy_every_package_their_code_imports(dockerfile: str, roots: list[str]) -> None:
    """The gateway image runs ``python -m gateway``, the actions image loads every module of ``actions``: each
    project package those import, directly or not, is copied into the image (logsafe and connectors once
    were not, so ``python -m connectors`` and ``actions.common`` failed to import in the images)."""
    graph = import_graph()
    text = (DEPLOY / "docker" / dockerfile).read_text()
    assert any(root.split(".")[0] in text.split("CMD", 1)[1] for root in roots), "the CMD runs another module"
    copied = {line.split()[1].rstrip("/") for line in text.splitlines() if line.startswith("COPY ")}
    seen: set[str] = set()
    todo = [m for m in graph if any(m == r or m.startswith(r + ".") for r in roots)]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += graph[module]
    needed = {m.split(".")[0] for m in seen}
    assert needed <= copied, f"{dockerfile} does not copy {sorted(needed - copied)}"


def test_images_install_the_hash_checked_locks_ci_tested() -> None:
    """An image installs the lock `make install` and CI install, never the loose requirements*.txt."""
    for dockerfile in (DEPLOY / "docker").glob("Dockerfile.*"):
        text = dockerfile.read_text()
        installs = [line for line in text.replace("\\\n", " ").splitlines() if "pip install" in line and " -r " in line]
        assert installs, f"{dockerfile.name} installs no requirements"
        for line in installs:
            lock = line.split(" -r ")[1].split()[0]
            assert lock.endswith(".lock") and (ROOT / lock).exists(), f"{dockerfile.name}: {lock}"
            assert "--require-hashes" in line, f"{dockerfile.name}: {line}"
            assert f"COPY {lock}" in text, f"{dockerfile.name} installs {lock} without copying it"


def test_rasa_chart_values_name_our_stores() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "rasa-bot-values.yaml").read_text())
    endpoints = values["applicationSettings"]["endpoints"]
    assert endpoints["trackerStore"]["type"] == "bot.tracker_store.CachedSQLTrackerStore"
    assert endpoints["lockStore"]["type"] == "bot.lock_store.RetryingRedisLockStore"
    assert yaml.safe_load((DEPLOY / "helm" / "rasa-action-server-values.yaml").read_text())["applicationSettings"]
