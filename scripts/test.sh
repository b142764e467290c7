#!/usr/bin/env bash
# Builds and tests every language present, from a fresh machine. Run from anywhere:
#   ./scripts/test.sh
# It installs what it needs itself: a PostgreSQL server (Debian's package), a Python venv
# with maturin, pytest and mypy (pinned), the npm packages and the Maven dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_TERM_COLOR=never

section() { printf '\n== %s\n' "$*"; }

section "Tree: no build outputs or large files in git"
./scripts/check-tree.sh

section "Release pipeline: actionlint on the workflows; one version across every artifact"
./scripts/lint-workflows.sh
./scripts/check-versions.sh

section "PostgreSQL: start a throwaway server for the shared-store tests"
POSTATO_TEST_POSTGRES_URL=$(./scripts/postgres.sh)
POSTATO_TEST_POSTGRES_CA=$(./scripts/postgres.sh --ca)
export POSTATO_TEST_POSTGRES_URL POSTATO_TEST_POSTGRES_CA
echo "PostgreSQL at $POSTATO_TEST_POSTGRES_URL (TLS certificate: $POSTATO_TEST_POSTGRES_CA)"

section "Format and lint: rustfmt, clippy (warnings are errors)"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
echo "rustfmt and clippy: clean"

section "Rust: build and test the workspace"
# The three crash and chaos runs go in their own section below, where their figures print.
cargo test --workspace --lib --bins --tests --examples -- --skip chaos_run --skip four_workers --skip a_batch_killed \
  --skip simulation_of_the_shared_machinery
cargo test --workspace --doc

section "Deterministic simulation of the shared machinery (10,000 seeds on a virtual clock)"
cargo test -p postato --test simulation simulation_of_the_shared_machinery -- --nocapture

section "Reliability runs: chaos (5,000 posts, 10 SIGKILLs), crash/resume, 4 workers on PostgreSQL"
cargo test -p postato-cli --test chaos --test crash_resume --test workers -- --nocapture --test-threads=1

section "Python: build the package and its test kit from source (pip install ./python ./python/testing) and test them"
VENV="$ROOT/python/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r python/requirements-dev.txt
"$VENV/bin/pip" install -q --disable-pip-version-check ./python ./python/testing
(cd python && "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check . && echo "ruff: clean")
(cd python && "$VENV/bin/python" -m pytest -q -p no:cacheprovider)
(cd python && "$VENV/bin/mypy" --strict --no-incremental examples/typing_check.py src/postato testing/src/postato_testing)
SDIST_DIR=$(mktemp -d)
(cd python && "$VENV/bin/maturin" sdist -o "$SDIST_DIR" >/dev/null 2>&1)
tar tzf "$SDIST_DIR"/postato-*.tar.gz > "$SDIST_DIR/contents"
grep -q "crates/postato-core/src/machine.rs" "$SDIST_DIR/contents" \
  || { echo "the sdist lacks the Rust sources it needs"; exit 1; }
if grep -E '\.(so|pyd|dylib|dll)$|/target/' "$SDIST_DIR/contents"; then
  echo "the sdist holds build outputs (above): it must hold sources only"; exit 1
fi
rm -rf "$SDIST_DIR"
echo "python sdist: sources only, ok"

section "Node: build the addon and its test kit from source (npm install runs the napi CLI) and test them"
(cd node && npm install --no-audit --no-fund --loglevel=error && npm test && npx tsc -p tsconfig.json && echo "tsc --strict: ok")
(cd node && npm run --silent lint && echo "biome: clean")
# Install it into a fresh project as a user does (npm 11 runs a dependency's build only when
# the project allows it).
CONSUMER=$(mktemp -d)
echo '{"name":"consumer","private":true,"allowScripts":{"postato":true,"postato-testing":true}}' > "$CONSUMER/package.json"
(cd "$CONSUMER" && npm install --no-audit --no-fund --loglevel=error "$ROOT/node" "$ROOT/node/testing" \
  && node -e "const p = require('postato'); if (p.idempotencyKey('draft-123') !== 'f62695618dbb558b0d9768a8003ec862') process.exit(1)" \
  && node --input-type=module -e "import { Client, DEFAULTS } from 'postato'; import { Simulator } from 'postato/testing'; import kit from 'postato-testing'; if (typeof Client !== 'function' || Simulator !== kit.Simulator || !DEFAULTS.maxAttempts) process.exit(1)")
rm -rf "$CONSUMER"
echo "npm install ./node from another project: ok"

section "Kotlin and Swift: generate the uniffi bindings; test Kotlin for real through Maven"
./scripts/generate-uniffi.sh
(cd kotlin && mvn -B -ntp package -Dpostato.lib.dir="$CARGO_TARGET_DIR/debug")
# Two jars: the library, and the test kit (com.postato.testing) apart from it. Their version
# is the workspace's (scripts/check-versions.sh keeps pom.xml at it).
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')
jar tf "kotlin/target/postato-$VERSION.jar" | grep -q 'com/postato/Client.class'
! jar tf "kotlin/target/postato-$VERSION.jar" | grep -q 'com/postato/testing/'
jar tf "kotlin/target/postato-$VERSION-testing.jar" | grep -q 'com/postato/testing/Simulator.class'
echo "kotlin: postato-$VERSION.jar without the simulator, postato-$VERSION-testing.jar with it"
echo "swift: sources regenerated (the XCTest suite runs on macOS; see swift/README.md)"

section "Production libraries hold no simulator; the test kits do (cargo tree, nm)"
PY_LIBS=$("$VENV/bin/python" -c "import postato._native as p, postato_testing._native as t; print(p.__file__, t.__file__)")
read -r PY_NATIVE PY_KIT <<< "$PY_LIBS"
./scripts/check-no-simulator.sh "$PY_NATIVE" node/postato.linux-x64-gnu.node "$CARGO_TARGET_DIR/debug/libpostato_uniffi.so" \
  -- "$PY_KIT" node/testing/postato-testing.linux-x64-gnu.node "$CARGO_TARGET_DIR/debug/libpostato_testing_uniffi.so"

section "Fuzzing: a short run of each cargo-fuzz target"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
  for target in retry_after response_body campaign_line; do
    (cd fuzz && CARGO_TARGET_DIR="$ROOT/fuzz/target" cargo +nightly fuzz run "$target" -- -max_total_time=15 2>&1 | grep -E "^Done|SUMMARY|panicked")
  done
else
  echo "no nightly toolchain on this machine: skipped (their proptest equivalents ran with the Rust tests)"
fi
