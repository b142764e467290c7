#!/usr/bin/env bash
# Builds and tests every language present, from a fresh machine. Run from anywhere:
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_TERM_COLOR=never

echo "== Rust: build and test the workspace"
cargo test --workspace --all-targets
cargo test --workspace --doc
