#!/usr/bin/env bash
# Checks that every artifact carries the one version of the project: scripts/check_versions.py
# (linted with ruff in the Python section of scripts/test.sh) says what it checks.
#   ./scripts/check-versions.sh [--tag vX.Y.Z]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/check_versions.py "$@"
