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
import time
from pathlib import Path

import httpx
import numpy as np
from ruamel.yaml import YAML
from serverprocess import running_server

from app.main import MULTIPART_SLACK
from app.settings import Settings
from tests.conftest import ROOT, png_bytes

BIN = Path(sys.executable).parent


def dockerfile_cmd() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert match, "the Dockerfile has an exec-form CMD"
    return json.loads(match.group(1))


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
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        caller.join(timeout=120)
        assert result.get("status") == 200 and result["bytes"] > 1000
        # uvicorn drains, then re-raises the signal so the exit status says SIGTERM.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Finished server process" in process.stdout.read()
