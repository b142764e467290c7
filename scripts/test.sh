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
# One cold build each: incremental caches would only take disk (gigabytes on a fresh machine).
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=never

section() { printf '\n== %s\n' "$*"; }
# The workspace's version, which every artifact carries (scripts/check-versions.sh).
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
# PATH without a Rust toolchain: the installs users make with none.
NO_RUST_PATH=$PATH
while tool=$(env PATH="$NO_RUST_PATH" sh -c 'command -v cargo || command -v rustc'); do
  dir=$(dirname "$tool")
  NO_RUST_PATH=$(printf '%s' "$NO_RUST_PATH" | tr ':' '\n' | grep -vxF "$dir" | paste -sd: -)
done
for tool in node npm mvn python3; do
  env PATH="$NO_RUST_PATH" sh -c "command -v $tool" >/dev/null \
    || { echo "hiding the Rust toolchain from PATH hides $tool too (same folder)"; exit 1; }
done

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

section "PostgreSQL: start a throwaway server for the shared-store tests"
POSTATO_TEST_POSTGRES_URL=$(./scripts/postgres.sh)
POSTATO_TEST_POSTGRES_CA=$(./scripts/postgres.sh --ca)
export POSTATO_TEST_POSTGRES_URL POSTATO_TEST_POSTGRES_CA
echo "PostgreSQL at $POSTATO_TEST_POSTGRES_URL (TLS certificate: $POSTATO_TEST_POSTGRES_CA)"

section "Format and lint: rustfmt, clippy, cargo doc (warnings are errors)"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
echo "rustfmt and clippy: clean"
# The API docs, as docs.rs builds them (every feature), and the CLI's: no broken links, no warnings.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --lib --quiet \
  --features postato/opentelemetry,postato/testing,postato-postgres/testing,postato-core/testing
RUSTDOCFLAGS="-D warnings" cargo doc -p postato-cli --no-deps --quiet
echo "cargo doc: no warnings"

section "Rust: build and test the workspace"
# The three crash and chaos runs go in their own section below, where their figures print.
cargo test --workspace --lib --bins --tests --examples -- --skip chaos_run --skip four_workers --skip a_batch_killed \
  --skip simulation_of_the_shared_machinery
cargo test --workspace --doc
# The README's install line from a checkout (debug here: the build above is reused).
INSTALL_ROOT=$(mktemp -d)
cargo install --quiet --locked --debug --path crates/postato-cli --root "$INSTALL_ROOT"
echo "cargo install --path crates/postato-cli: $("$INSTALL_ROOT/bin/postato" --version)"
rm -rf "$INSTALL_ROOT"

section "Deterministic simulation of the shared machinery (10,000 seeds and every seed that once failed, on a virtual clock)"
cargo test -p postato --test simulation simulation_of_the_shared_machinery -- --nocapture

section "Reliability runs: chaos (5,000 posts, 10 SIGKILLs), crash/resume, 4 workers on PostgreSQL"
cargo test -p postato-cli --test chaos --test crash_resume --test workers -- --nocapture --test-threads=1

section "Python: abi3 manylinux wheels (maturin --zig), tested from a venv with no Rust toolchain; the sdist builds from source; the CLI wheel runs the demo"
VENV="$ROOT/python/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r python/requirements-dev.txt
WHEELS=$(mktemp -d)
# zig links against an old glibc, so the wheels are manylinux2014 (glibc 2.17) whatever this
# machine's glibc is; auditwheel says which tag a wheel really qualifies for.
for package in python python/testing; do
  (cd "$package" && PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" build --release --zig --compatibility manylinux2014 \
    --out "$WHEELS" --quiet)
done
for wheel in "$WHEELS"/*.whl; do
  "$VENV/bin/auditwheel" show "$wheel" > "$WHEELS/show.txt"
  grep -q '"manylinux_2_17_x86_64"' "$WHEELS/show.txt" || { cat "$WHEELS/show.txt"; echo "$wheel is not manylinux2014"; exit 1; }
  case "$wheel" in *-cp39-abi3-manylinux*) ;; *) echo "$wheel is not an abi3 manylinux wheel"; exit 1 ;; esac
done
echo "python wheels (auditwheel: manylinux_2_17_x86_64): $(cd "$WHEELS" && for f in *.whl; do printf '%s %s B; ' "$f" "$(stat -c %s "$f")"; done)"
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/*.whl
(cd python && "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check . && echo "ruff: clean")
(cd python && "$VENV/bin/mypy" --strict --no-incremental examples/typing_check.py src/postato testing/src/postato_testing)
# The whole suite against the wheels, from a fresh venv whose PATH has no cargo or rustc.
WHEEL_VENV=$(mktemp -d)
python3 -m venv "$WHEEL_VENV"
"$WHEEL_VENV/bin/pip" install -q --disable-pip-version-check "$WHEELS"/*.whl \
  $(grep -E '^(pytest|hypothesis)==' python/requirements-dev.txt)
(cd python && env PATH="$WHEEL_VENV/bin:$NO_RUST_PATH" python -c "import postato, sys; assert '/site-packages/' in postato.__file__, postato.__file__" \
  && env PATH="$WHEEL_VENV/bin:$NO_RUST_PATH" python -m pytest -q -p no:cacheprovider)
rm -rf "$WHEEL_VENV"
echo "python: the suite passed against the installed wheels, with no Rust toolchain on PATH"
# The CLI as a wheel that carries the binary (python/cli): `pip install postato-cli` gives the
# `postato` command with no Rust toolchain, and its demo runs.
CLI_WHEELS=$(mktemp -d)
(cd python/cli && PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" build --release --zig --compatibility manylinux2014 \
  --out "$CLI_WHEELS" --quiet)
"$VENV/bin/auditwheel" show "$CLI_WHEELS"/postato_cli-*.whl > "$CLI_WHEELS/show.txt"
grep -q '"manylinux_2_17_x86_64"' "$CLI_WHEELS/show.txt" || { cat "$CLI_WHEELS/show.txt"; echo "the CLI wheel is not manylinux2014"; exit 1; }
CLI_VENV=$(mktemp -d)
python3 -m venv "$CLI_VENV"
"$CLI_VENV/bin/pip" install -q --disable-pip-version-check "$CLI_WHEELS"/postato_cli-*.whl
if env PATH="$CLI_VENV/bin:$NO_RUST_PATH" sh -c 'command -v cargo' >/dev/null; then
  echo "cargo is still on PATH: the CLI wheel would not be tested without a toolchain"; exit 1
fi
# The demo keeps its store under TMPDIR: the wheels' directory, removed below.
(cd "$CLI_VENV" && env PATH="$CLI_VENV/bin:$NO_RUST_PATH" TMPDIR="$CLI_WHEELS" postato demo --output json \
  > "$CLI_WHEELS/demo.json") || true
grep -q '"ok":true' "$CLI_WHEELS/demo.json" || { cat "$CLI_WHEELS/demo.json"; echo "postato demo from the CLI wheel failed"; exit 1; }
echo "python: postato-cli wheel ($(cd "$CLI_WHEELS" && stat -c %s postato_cli-*.whl) B, manylinux_2_17_x86_64) installed with no Rust toolchain on PATH; postato demo: ok"
# The same wheel as pipx and uv install a tool: each in a venv of its own, the command on PATH.
TOOLS=$(mktemp -d)
env PATH="$VENV/bin:$NO_RUST_PATH" PIPX_HOME="$TOOLS/pipx" PIPX_BIN_DIR="$TOOLS/pipx-bin" PIPX_MAN_DIR="$TOOLS/pipx-man" \
  pipx install --quiet "$CLI_WHEELS"/postato_cli-*.whl >/dev/null
env PATH="$VENV/bin:$NO_RUST_PATH" UV_TOOL_DIR="$TOOLS/uv" UV_TOOL_BIN_DIR="$TOOLS/uv-bin" UV_CACHE_DIR="$TOOLS/uv-cache" \
  UV_PYTHON_DOWNLOADS=never uv tool install --quiet --offline "$CLI_WHEELS"/postato_cli-*.whl
for bin in pipx-bin uv-bin; do
  [ "$(env PATH="$TOOLS/$bin:$NO_RUST_PATH" postato key draft-123)" = f62695618dbb558b0d9768a8003ec862 ] \
    || { echo "postato from $bin does not run"; exit 1; }
done
echo "python: pipx install and uv tool install of the CLI wheel give a postato that runs (no Rust toolchain on PATH)"
rm -rf "$TOOLS"
rm -rf "$CLI_WHEELS" "$CLI_VENV"
SDIST_DIR=$(mktemp -d)
(cd python && "$VENV/bin/maturin" sdist -o "$SDIST_DIR" >/dev/null 2>&1)
tar tzf "$SDIST_DIR"/postato-*.tar.gz > "$SDIST_DIR/contents"
grep -q "crates/postato-core/src/machine.rs" "$SDIST_DIR/contents" \
  || { echo "the sdist lacks the Rust sources it needs"; exit 1; }
if grep -E '\.(so|pyd|dylib|dll)$|/target/' "$SDIST_DIR/contents"; then
  echo "the sdist holds build outputs (above): it must hold sources only"; exit 1
fi
# The source path: the sdist into another fresh venv (pip builds it with maturin and cargo).
SDIST_VENV=$(mktemp -d)
python3 -m venv "$SDIST_VENV"
"$SDIST_VENV/bin/pip" install -q --disable-pip-version-check "$SDIST_DIR"/postato-*.tar.gz
(cd /tmp && "$SDIST_VENV/bin/python" -c "import postato; assert postato.idempotency_key('draft-123') == 'f62695618dbb558b0d9768a8003ec862'; print('python sdist: built from source and imported,', postato.__file__)")
rm -rf "$SDIST_DIR" "$SDIST_VENV" "$WHEELS"

section "Node: npm install ./node from a fresh checkout builds from source; the packed packages install with no toolchain"
# The pinned napi CLI the install scripts fetch through npx, fetched once first: two installs
# filling an empty npx cache at the same moment can trip over each other.
npx --yes --package @napi-rs/cli@3.10.12 napi --version >/dev/null
# As a user of a checkout does, before node/ has a node_modules of its own: the install script
# builds the addon from source (npm 11 runs a dependency's script when the project allows it).
CONSUMER=$(mktemp -d)
echo '{"name":"consumer","private":true,"allowScripts":{"postato":true,"postato-testing":true}}' > "$CONSUMER/package.json"
(cd "$CONSUMER" && npm install --no-audit --no-fund --loglevel=error "$ROOT/node" "$ROOT/node/testing" \
  && node -e "const p = require('postato'); if (p.idempotencyKey('draft-123') !== 'f62695618dbb558b0d9768a8003ec862') process.exit(1)" \
  && node --input-type=module -e "import { Client, DEFAULTS } from 'postato'; import { Simulator } from 'postato/testing'; import kit from 'postato-testing'; if (typeof Client !== 'function' || Simulator !== kit.Simulator || !DEFAULTS.maxAttempts) process.exit(1)")
rm -rf "$CONSUMER"
echo "npm install ./node from another project (built from source): ok"
(cd node && npm install --no-audit --no-fund --loglevel=error && npm test && npx tsc -p tsconfig.json && echo "tsc --strict: ok")
(cd node && npm run --silent lint && echo "biome: clean")
# postato and postato-testing ship the same loader and install script.
for shared in native.js lib/platform.js scripts/install.js; do cmp "node/$shared" "node/testing/$shared"; done
# The packages as the registry serves them: postato and postato-testing made so by
# node/scripts/prepublish.js (their platform packages as optional dependencies, no install
# script), and this platform's prebuilt packages; installed with no cargo or rustc on PATH and
# npm's scripts off, then a publish from CommonJS and from ESM.
PLATFORM=$(node -p "require('./node/lib/platform').platform()")
PACKS=$(mktemp -d)
STAGE=$(mktemp -d)
for package in node node/testing; do
  tarball=$(cd "$package" && npm pack --silent --pack-destination "$STAGE")
  mkdir -p "$STAGE/${tarball%.tgz}" && tar xzf "$STAGE/$tarball" -C "$STAGE/${tarball%.tgz}"
  cp -R "$package/npm" "$STAGE/${tarball%.tgz}/package/npm"
  node node/scripts/prepublish.js "$STAGE/${tarball%.tgz}/package"
  rm -rf "$STAGE/${tarball%.tgz}/package/npm"
  (cd "$STAGE/${tarball%.tgz}/package" && npm pack --silent --pack-destination "$PACKS" >/dev/null)
done
cp "node/postato.$PLATFORM.node" "node/npm/$PLATFORM/"
cp "node/testing/postato-testing.$PLATFORM.node" "node/testing/npm/$PLATFORM/"
for dir in "node/npm/$PLATFORM" "node/testing/npm/$PLATFORM"; do
  (cd "$dir" && npm pack --silent --pack-destination "$PACKS" >/dev/null)
done
rm -f "node/npm/$PLATFORM"/*.node "node/testing/npm/$PLATFORM"/*.node
if tar tzf "$PACKS/postato-$VERSION.tgz" | grep -E '\.node$|scripts/install'; then
  echo "the main npm package holds a binary or an install script"; exit 1
fi
CONSUMER=$(mktemp -d)
echo '{"name":"consumer","private":true}' > "$CONSUMER/package.json"
cp tests/npm-consumer/publish.cjs tests/npm-consumer/publish.mjs "$CONSUMER/"
(cd "$CONSUMER" && env PATH="$NO_RUST_PATH" npm install --ignore-scripts --no-audit --no-fund --loglevel=error "$PACKS"/*.tgz \
  && env PATH="$NO_RUST_PATH" node publish.cjs && env PATH="$NO_RUST_PATH" node publish.mjs)
rm -rf "$CONSUMER"
echo "npm: sizes: $(cd "$PACKS" && for f in *.tgz; do printf '%s %s B; ' "$f" "$(stat -c %s "$f")"; done)"
# From a checkout with neither a toolchain nor a prebuilt package: one sentence naming what to install.
CHECKOUT=$(mktemp -d)
(cd node && git ls-files -z . | xargs -0 cp --parents -t "$CHECKOUT")
CONSUMER=$(mktemp -d)
echo '{"name":"consumer","private":true,"allowScripts":{"postato":true}}' > "$CONSUMER/package.json"
if (cd "$CONSUMER" && env PATH="$NO_RUST_PATH" npm install --omit=optional --no-audit --no-fund --loglevel=error \
  "$CHECKOUT" > install.log 2>&1); then
  echo "postato installed with neither a prebuilt package nor a toolchain"; exit 1
fi
grep -q "postato: no prebuilt native library for $PLATFORM (@postato/$PLATFORM) and no way to build one here: install @postato/$PLATFORM, or install Rust" "$CONSUMER/install.log" \
  || { cat "$CONSUMER/install.log"; exit 1; }
rm -rf "$CONSUMER" "$CHECKOUT" "$PACKS" "$STAGE"
echo "npm: the packed postato, postato-testing and their $PLATFORM packages install and publish with no toolchain; a checkout without one names what to install"

section "Kotlin and Swift: generate the uniffi bindings; test Kotlin for real through Maven"
./scripts/generate-uniffi.sh
(cd kotlin && mvn -B -ntp package -Dpostato.lib.dir="$CARGO_TARGET_DIR/debug")
# Two jars: the library, and the test kit (com.postato.testing) apart from it. Their version
# is the workspace's (scripts/check-versions.sh keeps pom.xml at it).
jar tf "kotlin/target/postato-$VERSION.jar" | grep 'com/postato/Client.class' >/dev/null
if jar tf "kotlin/target/postato-$VERSION.jar" | grep 'com/postato/testing/' >/dev/null; then echo "the library jar holds the test kit"; exit 1; fi
jar tf "kotlin/target/postato-$VERSION-testing.jar" | grep 'com/postato/testing/Simulator.class' >/dev/null
echo "kotlin: postato-$VERSION.jar without the simulator, postato-$VERSION-testing.jar with it"
# Each jar carries its native library where JNA finds it on the classpath (the tests above ran
# with no jna.library.path); then a separate project uses them by coordinates, as users do.
jar tf "kotlin/target/postato-$VERSION.jar" | grep -x 'linux-x86-64/libpostato_uniffi.so' >/dev/null
if jar tf "kotlin/target/postato-$VERSION.jar" | grep 'libpostato_testing_uniffi' >/dev/null; then echo "the library jar holds the simulator's library"; exit 1; fi
jar tf "kotlin/target/postato-$VERSION-testing.jar" | grep -x 'linux-x86-64/libpostato_testing_uniffi.so' >/dev/null
(cd kotlin && mvn -B -ntp -q install -DskipTests -Dpostato.lib.dir="$CARGO_TARGET_DIR/debug")
env PATH="$NO_RUST_PATH" mvn -B -ntp -f tests/kotlin-consumer/pom.xml test -Dpostato.version="$VERSION"
echo "kotlin: sizes: $(for f in kotlin/target/postato-"$VERSION"*.jar; do printf '%s %s B; ' "$(basename "$f")" "$(stat -c %s "$f")"; done)"
echo "kotlin: the jars carry their libraries; tests/kotlin-consumer uses com.postato:postato:$VERSION by coordinates and publishes"
echo "swift: sources regenerated (the XCTest suite runs on macOS; see swift/README.md)"

section "Examples: every code block of every Markdown file, as written"
# Shell, Python, Node and the Rust quickstart against a fresh `postato sim` each; Kotlin compiled
# in tests/kotlin-consumer (the jars installed above); Swift names against the generated API.
cargo build --quiet --workspace --examples
env PYTHON="$VENV/bin/python" POSTATO_BIN="$CARGO_TARGET_DIR/debug/postato" python3 scripts/examples.py

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

section "Done"
echo "disk used by the build: $(du -sh "$CARGO_TARGET_DIR" | cut -f1) in $CARGO_TARGET_DIR; $(df -h --output=avail . | tail -n 1 | tr -d ' ') still free"
