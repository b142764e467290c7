#!/usr/bin/env bash
# Node: npm install from a checkout (built from source), the suite, tsc and Biome, the packed
# packages with no toolchain.
# Run alone (`./scripts/test/node.sh`) or as part of `./scripts/test.sh`.
set -euo pipefail
# shellcheck source=scripts/test/common.sh
source "$(dirname "$0")/common.sh"
ensure_postgres

section "Node: npm install ./node from a fresh checkout builds from source; the packed packages install with no toolchain"
# The pinned napi CLI the install scripts fetch through npx, fetched once first: two installs
# filling an empty npx cache at the same moment can trip over each other.
npx --yes --package @napi-rs/cli@3.10.12 napi --version >/dev/null
# As a user of a checkout does, before node/ has a node_modules of its own: the install script
# builds the addon from source (npm 11 runs a dependency's script when the project allows it).
CONSUMER=$(mktemp -d)
echo '{"name":"consumer","private":true,"allowScripts":{"postato":true,"postato-testing":true}}' > "$CONSUMER/package.json"
(cd "$CONSUMER" && npm install --no-audit --no-fund --loglevel=error "$ROOT/node" "$ROOT/node/postato-testing" \
  && node -e "const p = require('postato'); if (p.idempotencyKey('draft-123') !== 'f62695618dbb558b0d9768a8003ec862') process.exit(1)" \
  && node --input-type=module -e "import { Client, DEFAULTS } from 'postato'; import { Simulator } from 'postato/testing'; import kit from 'postato-testing'; if (typeof Client !== 'function' || Simulator !== kit.Simulator || !DEFAULTS.maxAttempts) process.exit(1)")
rm -rf "$CONSUMER"
echo "npm install ./node from another project (built from source): ok"
(cd node && npm install --no-audit --no-fund --loglevel=error && npm test && npx tsc -p tsconfig.json && echo "tsc --strict: ok")
(cd node && npm run --silent lint && echo "biome: clean")
# postato and postato-testing ship the same loader and install script.
for shared in native.js lib/platform.js scripts/install.js; do cmp "node/$shared" "node/postato-testing/$shared"; done
# The packages as the registry serves them: postato and postato-testing made so by
# node/scripts/prepublish.js (their platform packages as optional dependencies, no install
# script), and this platform's prebuilt packages; installed with no cargo or rustc on PATH and
# npm's scripts off, then a publish from CommonJS and from ESM.
PLATFORM=$(node -p "require('./node/lib/platform').platform()")
PACKS=$(mktemp -d)
STAGE=$(mktemp -d)
for package in node node/postato-testing; do
  tarball=$(cd "$package" && npm pack --silent --pack-destination "$STAGE")
  mkdir -p "$STAGE/${tarball%.tgz}" && tar xzf "$STAGE/$tarball" -C "$STAGE/${tarball%.tgz}"
  cp -R "$package/npm" "$STAGE/${tarball%.tgz}/package/npm"
  node node/scripts/prepublish.js "$STAGE/${tarball%.tgz}/package"
  rm -rf "$STAGE/${tarball%.tgz}/package/npm"
  (cd "$STAGE/${tarball%.tgz}/package" && npm pack --silent --pack-destination "$PACKS" >/dev/null)
done
cp "node/postato.$PLATFORM.node" "node/npm/$PLATFORM/"
cp "node/postato-testing/postato-testing.$PLATFORM.node" "node/postato-testing/npm/$PLATFORM/"
for dir in "node/npm/$PLATFORM" "node/postato-testing/npm/$PLATFORM"; do
  (cd "$dir" && npm pack --silent --pack-destination "$PACKS" >/dev/null)
done
rm -f "node/npm/$PLATFORM"/*.node "node/postato-testing/npm/$PLATFORM"/*.node
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
