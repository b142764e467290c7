#!/usr/bin/env bash
# Builds and tests the project from a fresh machine. Run from anywhere:
#   ./scripts/test.sh [rust|python|node|kotlin|all]     (all by default: what CI runs)
# One language runs its own script (scripts/test/LANGUAGE.sh); `all` runs them in turn, then
# the checks that need every language built (the examples of every Markdown file, no
# simulator in the production libraries, fuzzing). It installs what it needs itself: a
# PostgreSQL server and Chromium (Debian's packages), a Python venv with maturin, pytest and
# mypy (pinned), the npm packages and the Maven dependencies.
set -euo pipefail
# shellcheck source=scripts/test/common.sh
source "$(dirname "$0")/test/common.sh"

part=${1:-all}
case "$part" in
  rust | python | node | kotlin) exec "./scripts/test/$part.sh" ;;
  all) ;;
  *)
    echo "usage: ./scripts/test.sh [rust|python|node|kotlin|all] (got \"$part\")" >&2
    exit 2
    ;;
esac

# A full run writes about 4 GB (mostly target/); a disk that fills up fails it far from the cause.
echo "disk before the run: $(df -h --output=avail . | tail -n 1 | tr -d ' ') free where the build goes"

section "Tree: no build outputs or large files in git"
./scripts/check-tree.sh
# The CLI crate carries its demo campaign (a .crate file holds nothing outside it); the copy in
# examples/ is the one the README points at.
cmp crates/postato-cli/campaign.jsonl examples/campaign.jsonl

section "Release pipeline: actionlint on the workflows; one version across every artifact"
./scripts/lint-workflows.sh
./scripts/check-versions.sh

ensure_postgres
for language in rust python node kotlin; do
  "./scripts/test/$language.sh"
done

section "Examples: every code block of every Markdown file, as written"
# Shell, Python, Node and the Rust quickstart against a fresh `postato sim` each; Kotlin compiled
# in tests/kotlin-consumer (the jars installed above); Swift names against the generated API.
cargo build --quiet --workspace --examples
env PYTHON="$VENV/bin/python" POSTATO_BIN="$CARGO_TARGET_DIR/debug/postato" python3 scripts/examples.py

section "Report: postato report of a faulty run renders in Debian's Chromium: no console error, no request"
ensure_chromium
(cd tests/report && npm ci --no-audit --no-fund --loglevel=error)
env POSTATO_BIN="$CARGO_TARGET_DIR/debug/postato" node tests/report/check.mjs

section "Production libraries hold no simulator; the test kits do (cargo tree, nm)"
# This machine's platform, as the Node loader names it (linux-x64-gnu, darwin-arm64, and so on).
PLATFORM=$(node -p "require('./node/lib/platform').platform()")
PY_LIBS=$("$VENV/bin/python" -c "import postato._native as p, postato_testing._native as t; print(p.__file__, t.__file__)")
read -r PY_NATIVE PY_KIT <<< "$PY_LIBS"
./scripts/check-no-simulator.sh "$PY_NATIVE" "node/postato.$PLATFORM.node" "$CARGO_TARGET_DIR/debug/libpostato_uniffi.so" \
  -- "$PY_KIT" "node/postato-testing/postato-testing.$PLATFORM.node" "$CARGO_TARGET_DIR/debug/libpostato_testing_uniffi.so"

section "Fuzzing: a short run of each cargo-fuzz target"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
  for target in retry_after response_body campaign_line; do
    (cd fuzz && CARGO_TARGET_DIR="$ROOT/fuzz/target" cargo +nightly fuzz run "$target" -- -max_total_time=15 2>&1 | grep -E "^Done|SUMMARY|panicked")
  done
else
  echo "no nightly toolchain on this machine: skipped (their proptest equivalents ran with the Rust tests)"
fi

section "Done"
echo "disk used by the build: $(du -sh "$CARGO_TARGET_DIR" | cut -f1) in $CARGO_TARGET_DIR; $(df -h --output=avail . | tail -n 1 | tr -d ' ') still free"
