#!/usr/bin/env bash
# Install isovox into ./.venv (created if missing). Torch comes first and pinned: on these machines
# `torch==2.13.0` is a preinstalled CPU wheel, while an unpinned torch would pull several GB of
# CUDA packages. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
# napari: the viewer plugin (isovox.napari) and what its tests need (PyQt6, pytest-qt)
.venv/bin/python -m pip install --quiet -e ".[test,napari]"
