#!/usr/bin/env bash
# Checks that the libraries production code loads hold no simulator, and that the test kits
# do (so the check can fail): by the dependency graph (cargo tree), and in built artifacts by
# their symbols (nm) and by the simulator's source paths that Rust embeds for panic messages
# (which a stripped library, such as a wheel linked by zig, still holds).
#   ./scripts/check-no-simulator.sh [PRODUCTION_LIBRARY ...] [-- TEST_KIT_LIBRARY ...]
set -euo pipefail
# Library paths are taken relative to where the script is run from.
libraries=()
for arg in "$@"; do
  if [ "$arg" = "--" ]; then libraries+=(--); else libraries+=("$(realpath -m "$arg")"); fi
done
set -- ${libraries[@]+"${libraries[@]}"}
cd "$(dirname "$0")/.."
status=0

for package in postato-python postato-node postato-uniffi; do
  # Any path to postato-sim, or a `testing` feature (the core's scenario runner, the
  # PostgreSQL store's test databases). The tree is read first, so that a failing
  # `cargo tree` fails the check instead of passing it.
  tree=$(cargo tree -q -p "$package" -e normal,build -f '{p} {f}')
  if grep -E 'postato-sim|postato-(core|postgres) .*testing' <<< "$tree"; then
    echo "$package depends on the simulator or a test harness (above)"; status=1
  fi
done

symbols() {
  local named paths
  named=$(nm -C "$1" 2>/dev/null | grep -c -E 'postato_sim::|postato_core::scenario' || true)
  paths=$(grep -a -o -E 'postato-sim/src/[a-z_/]+\.rs|postato-core/src/scenario\.rs' "$1" | wc -l)
  echo $((named + paths))
}
side=production
for library in "$@"; do
  if [ "$library" = "--" ]; then side=test-kit; continue; fi
  [ -f "$library" ] || { echo "no such library: $library"; status=1; continue; }
  count=$(symbols "$library")
  if [ "$side" = production ] && [ "$count" -ne 0 ]; then
    echo "$library: $count simulator symbols in a production library"; status=1
  elif [ "$side" = test-kit ] && [ "$count" -eq 0 ]; then
    echo "$library: no simulator symbols or source paths in a test kit (is this the right library?)"; status=1
  else
    echo "$library ($side): $count simulator symbols and source paths, $(du -k "$library" | cut -f1) KiB"
  fi
done
[ "$status" -eq 0 ] && echo "no simulator in production libraries: ok"
exit "$status"
