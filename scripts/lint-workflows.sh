#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, which also runs shellcheck on the `run:`
# scripts when shellcheck is on PATH. The workflows cannot run here (no GitHub runners): this is
# the check they get. Installs the pinned actionlint with `go install` when it is neither on
# PATH nor in $(go env GOPATH)/bin, and shellcheck (Debian's package) when it is missing and
# apt-get can install it; without shellcheck the lint still runs and says what it left out.
# Run from anywhere:
#   ./scripts/lint-workflows.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ACTIONLINT_VERSION=v1.7.12

GO=$(command -v go || true)
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
actionlint=""
if command -v actionlint >/dev/null 2>&1; then
  actionlint=$(command -v actionlint)
elif [ -n "$GO" ] && [ -x "$("$GO" env GOPATH)/bin/actionlint" ]; then
  actionlint="$("$GO" env GOPATH)/bin/actionlint"
fi
if [ -n "$actionlint" ] && ! "$actionlint" -version | head -n 1 | grep -qx "$ACTIONLINT_VERSION"; then
  echo "actionlint at $actionlint is $("$actionlint" -version | head -n 1), not $ACTIONLINT_VERSION: installing $ACTIONLINT_VERSION"
  actionlint=""
fi
if [ -z "$actionlint" ]; then
  [ -n "$GO" ] || { echo "actionlint is not installed and there is no go to install it with"; exit 1; }
  echo "installing actionlint $ACTIONLINT_VERSION (go install)"
  "$GO" install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  actionlint="$("$GO" env GOPATH)/bin/actionlint"
fi

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#workflows[@]} = 0 ]; then
  echo "no workflows under .github/workflows"; exit 1
fi
if ! command -v shellcheck >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing shellcheck (Debian package), for the run: scripts"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq shellcheck >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 || true; apt-get install -y -qq shellcheck >/dev/null 2>&1; } \
    || echo "shellcheck could not be installed: linting without it"
fi
if command -v shellcheck >/dev/null 2>&1; then
  checks="with shellcheck $(shellcheck --version | sed -n 's/^version: //p') on the run: scripts"
else
  checks="without shellcheck (not installed: the run: scripts were not checked by it)"
fi
"$actionlint" -no-color "${workflows[@]}"
echo "actionlint $ACTIONLINT_VERSION: ${workflows[*]} clean, $checks"
