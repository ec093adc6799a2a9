#!/usr/bin/env bash
# System packages the test suite needs beyond Python 3.11: make, Debian's Chromium (the demo-page
# browser test drives it through Playwright's executable_path; no browser is ever downloaded) and
# kubectl (the Kubernetes test builds deploy/k8s with `kubectl kustomize`, as `kubectl apply -k` does).
# Installs what is missing with apt when run as root; otherwise says what to install.
set -euo pipefail
missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "missing system packages: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
