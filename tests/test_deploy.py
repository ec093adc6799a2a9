"""Deployment files: Dockerfile lint, compose schema, and the container's command run as a plain process.

There is no Docker engine on the build machines, so the image's CMD is run here directly, with the
same environment variables the Dockerfile sets.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
from ruamel.yaml import YAML
from serverprocess import running_server

from app.main import MULTIPART_SLACK
from app.settings import Settings
from tests.conftest import ROOT, png_bytes, wait_until

BIN = Path(sys.executable).parent


def dockerfile_cmd() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert match, "the Dockerfile has an exec-form CMD"
    return json.loads(match.group(1))


def running(base: str) -> float:
    """The server's `denoise_inferences_running` gauge."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return float(re.search(r"^denoise_inferences_running (\S+)$", text, re.MULTILINE).group(1))


def test_dockerfile_passes_hadolint():
    result = subprocess.run([str(BIN / "hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_non_root_without_tensorflow():
    text = "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.startswith("#"))
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    assert re.search(r"^USER (?!root|0\b)", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/health/live" in text
    assert "tensorflow" not in text.lower() and ".[${RUNTIME}]" in text
    assert "train" not in re.findall(r"pip install \"([^\"]*)\"", text)[0]


def test_compose_file_matches_the_compose_schema():
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                             str(ROOT / "docker-compose.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    proxy, api, gpu = (compose["services"][name] for name in ("proxy", "api", "api-gpu"))
    assert api["restart"] == "unless-stopped" and "healthcheck" in api and "ports" not in api
    assert str(api["deploy"]["replicas"]).startswith("${REPLICAS") and proxy["ports"]
    labels = api["labels"]
    assert labels["traefik.http.services.api.loadbalancer.healthcheck.path"] == "/health/ready"
    upload_limit = int(labels["traefik.http.middlewares.upload-limit.buffering.maxRequestBodyBytes"])
    assert upload_limit == Settings().max_upload_bytes + MULTIPART_SLACK  # the proxy and the app agree
    assert gpu["profiles"] == ["gpu"] and gpu["build"]["args"]["RUNTIME"] == "gpu"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_compose_schema_check_catches_mistakes(tmp_path):
    bad = tmp_path / "compose.yml"
    bad.write_text((ROOT / "docker-compose.yml").read_text().replace("  api:\n", "  api:\n    healtcheck: {}\n", 1))
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode != 0


K8S = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))


def test_kubernetes_manifests_validate_strictly():
    manifests = [p for p in K8S if p.name != "kustomization.yaml"]
    result = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", *map(str, manifests)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    docs = [d for p in manifests for d in YAML(typ="safe").load_all(p.read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["resources"]["requests"] and container["resources"]["limits"]
    gpu = [d for d in docs if d["kind"] == "Deployment" and "gpu" in d["metadata"]["name"]]
    assert gpu and gpu[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_kubernetes_validation_catches_mistakes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text().replace("containerPort: 8000", "containerPort: http"))
    result = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0


def test_container_command_serves_and_drains_on_sigterm(astronaut):
    """The Dockerfile's CMD, as a plain process: ready, denoises, and SIGTERM lets a request finish."""
    with running_server(dockerfile_cmd()) as server:
        base, process = server.base, server.process
        big = png_bytes(np.tile(astronaut, (6, 4, 1)))  # ~0.7 MP: long enough to be in flight at SIGTERM
        result: dict = {}

        def call() -> None:
            response = httpx.post(f"{base}/denoise", files={"file": ("a.png", big)}, timeout=120)
            result["status"], result["bytes"] = response.status_code, len(response.content)

        caller = threading.Thread(target=call)
        caller.start()
        wait_until(lambda: running(base) == 1, timeout=60, what="the request to be in inference")
        process.send_signal(signal.SIGTERM)
        caller.join(timeout=120)
        assert result.get("status") == 200 and result["bytes"] > 1000
        # uvicorn drains, then re-raises the signal so the exit status says SIGTERM.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Finished server process" in process.stdout.read()


def test_kustomization_builds_what_kubectl_apply_k_would_apply():
    """`kubectl kustomize deploy/k8s` (the build `kubectl apply -k` runs), then the promises in the README:
    startup probe, non-root, read-only root filesystem, CPU 2 and memory 1-2 GiB per pod, HPA 2 to 20."""
    built = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy" / "k8s")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    docs = {d["kind"]: d for d in YAML(typ="safe").load_all(built.stdout) if d}
    assert set(docs) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    deployment, service, hpa = docs["Deployment"], docs["Service"], docs["HorizontalPodAutoscaler"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}  # the one writable place
    resources = container["resources"]
    assert resources["requests"] == {"cpu": "2", "memory": "1Gi"} and resources["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 20)
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert pod["terminationGracePeriodSeconds"] > 30  # longer than uvicorn's drain


def test_drain_time_agrees_everywhere():
    """One drain: the setting, uvicorn's graceful timeout in the image and the Makefile, shorter than the
    time compose and Kubernetes give a container after SIGTERM; the proxy cuts slow requests."""
    drain = Settings().drain_s
    cmd = dockerfile_cmd()
    assert float(cmd[cmd.index("--timeout-graceful-shutdown") + 1]) == drain
    assert f"--timeout-graceful-shutdown {drain:g}" in (ROOT / "Makefile").read_text()
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    for name in ("api", "api-gpu"):
        service = compose["services"][name]
        assert float(service["stop_grace_period"].rstrip("s")) > drain
        assert float(service["environment"]["DENOISE_DRAIN_S"]) == drain
    proxy = " ".join(compose["services"]["proxy"]["command"])
    assert "respondingTimeouts.readTimeout=" in proxy
    for path in K8S:
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if doc and doc["kind"] == "Deployment":
                assert doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain, path.name
