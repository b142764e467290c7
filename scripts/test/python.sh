#!/usr/bin/env bash
# Python: the wheels (abi3, manylinux2014) and the suite against them with no Rust toolchain, the
# CLI wheel through pip, pipx and uv, the sdist from source; ruff and mypy.
# Run alone (`./scripts/test/python.sh`) or as part of `./scripts/test.sh`.
set -euo pipefail
# shellcheck source=scripts/test/common.sh
source "$(dirname "$0")/common.sh"
ensure_postgres

section "Python: abi3 manylinux wheels (maturin --zig), tested from a venv with no Rust toolchain; the sdist builds from source; the CLI wheel runs the demo"
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
# The repository's own Python scripts (scripts/ruff.toml).
"$VENV/bin/ruff" check scripts && "$VENV/bin/ruff" format --check scripts
(cd python && "$VENV/bin/mypy" --strict --no-incremental examples/typing_check.py src/postato testing/src/postato_testing)
# The whole suite against the wheels, from a fresh venv whose PATH has no cargo or rustc.
WHEEL_VENV=$(mktemp -d)
python3 -m venv "$WHEEL_VENV"
mapfile -t TEST_PINS < <(grep -E '^(pytest|hypothesis|opentelemetry-[a-z-]+|typing-extensions|psycopg|psycopg-binary|SQLAlchemy)==' python/requirements-dev.txt)
"$WHEEL_VENV/bin/pip" install -q --disable-pip-version-check "$WHEELS"/*.whl "${TEST_PINS[@]}"
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
