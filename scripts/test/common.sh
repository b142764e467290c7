# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/test/*.sh: the environment every part of the test
# run shares (one cargo target dir, no debug info, no incremental caches), `section`, the
# workspace's version, a PATH without the Rust toolchain, the Python venv, and the PostgreSQL
# server.
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_PROFILE_DEV_DEBUG=0
# One cold build each: incremental caches would only take disk (gigabytes on a fresh machine).
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=never

section() { printf '\n== %s\n' "$*"; }
# The workspace's version, which every artifact carries (scripts/check-versions.sh).
# shellcheck disable=SC2034  # used by the scripts that source this file
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

# The Python venv with the pinned tools (maturin, pytest, mypy, ruff, pipx, uv).
# shellcheck disable=SC2034  # used by the scripts that source this file
VENV="$ROOT/python/.venv"

# Starts a throwaway PostgreSQL server for the shared-store tests, unless one was started
# already for this run (`./scripts/test.sh all` starts it once, for every part).
ensure_postgres() {
  if [ -n "${POSTATO_TEST_POSTGRES_URL:-}" ]; then return; fi
  section "PostgreSQL: start a throwaway server for the shared-store tests"
  POSTATO_TEST_POSTGRES_URL=$(./scripts/postgres.sh)
  POSTATO_TEST_POSTGRES_CA=$(./scripts/postgres.sh --ca)
  export POSTATO_TEST_POSTGRES_URL POSTATO_TEST_POSTGRES_CA
  echo "PostgreSQL at $POSTATO_TEST_POSTGRES_URL (TLS certificate: $POSTATO_TEST_POSTGRES_CA)"
}

# Debian's Chromium (/usr/bin/chromium), for the report's browser check: a tool's own browser
# download cannot be fetched here. Installed from Debian's packages when missing (as root, or
# through sudo).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  echo "installing Chromium (Debian package)"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}
